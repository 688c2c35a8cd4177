/** Types of config-overlay.mjs: the Kubernetes init step that merges the ConfigMap's and the Secret's config. */
export declare function overlayDocuments(
  documents: { name: string; value: unknown }[],
): Record<string, unknown>;
export declare function buildConfig(options: {
  files: string[];
  nodeId?: string;
  env?: Record<string, string | undefined>;
}): Record<string, unknown>;
export declare function main(argv: string[], env?: NodeJS.ProcessEnv): number;

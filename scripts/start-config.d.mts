/** Types of start-config.mjs: the config `npm start` runs, with its file paths made absolute. */
export type StartConfig = Record<string, unknown> & {
  shaping?: { file?: string };
  bounce?: { rules_file?: string } & Record<string, unknown>;
  routes?: unknown[];
};
export declare function readStartConfig(path: string): Promise<StartConfig>;

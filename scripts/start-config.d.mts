/** Types of start-config.mjs: the config `npm start` runs, with its file paths made absolute. */
export type StartConfig = Record<string, unknown> & {
  shaping?: { file?: string };
  bounce?: { rules_file?: string } & Record<string, unknown>;
  routes?: unknown[];
};
export declare function readStartConfig(path: string): Promise<StartConfig>;
export declare const SINK_VIA: string;
/** Whether npm start runs its capture sink (the `*` route goes to SINK_VIA), else what to say. */
export declare function captureSinkPlan(config: StartConfig): { start: boolean; note?: string };

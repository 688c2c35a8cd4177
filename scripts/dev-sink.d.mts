/** Types of dev-sink.mjs: the capture sink `npm start` runs, with scripted replies by local part. */
export interface SinkRule {
  prefix: string;
  code: number;
  text: string;
  once?: boolean;
}
export declare const REPLIES: readonly SinkRule[];
export declare function replyFor(address: string, seen: Set<string>): SinkRule | undefined;
export declare function startDevSink(options: {
  host?: string;
  port?: number;
  log: (line: string) => void;
}): Promise<{ port: number; close(): Promise<void> }>;

/**
 * What the reply gate knows of a connection's SMTP state when it asks the script for a behaviour:
 * the connection number, the MAIL count, the transaction's recipients so far (every RCPT since MAIL,
 * reset by RSET, EHLO and the end of data). Owns that state; `decide` reads the live script.
 */
import {
  behaviourFor,
  type SinkBehaviour,
  type SinkStage,
  type StageContext,
  type StageScript,
  type TranscriptStage,
} from './sink-stages.js';

export class StageTracker {
  private transaction = 0;
  private recipients: string[] = [];

  constructor(
    private readonly connection: number,
    private readonly clientAddress: string,
    private readonly script: () => StageScript | undefined,
  ) {}

  /** A command arrived (before its behaviour is decided). */
  command(stage: TranscriptStage, address: string | undefined): void {
    if (stage === 'mail') {
      this.transaction++;
      this.recipients = [];
    } else if (stage === 'rcpt' && address !== undefined) this.recipients.push(address);
    else if (stage === 'rset' || stage === 'ehlo') this.recipients = [];
  }

  /** The final dot arrived and its behaviour was decided: the transaction is over. */
  endOfData(): void {
    this.recipients = [];
  }

  decide(stage: SinkStage, command: string, address?: string): SinkBehaviour | undefined {
    const ctx: StageContext = {
      stage,
      connection: this.connection,
      transaction: this.transaction,
      command,
      recipients: [...this.recipients],
      clientAddress: this.clientAddress,
      ...(address !== undefined ? { address } : {}),
    };
    return behaviourFor(this.script(), ctx);
  }
}

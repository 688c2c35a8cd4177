/**
 * The bounce-processor: an SMTP listener (smtp-server) for the bounce domain. It accepts RCPT only
 * for valid VERP return paths (forged, altered, expired or unknown-key tokens get `550 5.1.1`) and
 * for the configured complaint address; any sender, including `<>`. At the end of DATA the
 * message is read off the event loop by a classifier thread (classifier-pool.ts) and acted on
 * (`herald.recordFeedback`) before the `250`, so a `250` means the suppressions, counters and events are
 * written; a Redis failure (or no classifier thread able to run) answers `451 4.3.0` and the
 * remote MTA retries. A message the classifier cannot read within its time budget is `undefined`:
 * answered `250 2.0.0` (so the sender does not retry it forever) with nothing recorded but a
 * warning in the log. Oversized messages get `552 5.3.4`. It never sends mail, so it can never
 * make a bounce loop. The door guards it (@herald/smtp-listener's door guard, as the relay's, with the `smtp` section's limits:
 * per-client connections and rate, junk and error limits — a forged token counts as an error —,
 * DATA deadline and minimum rate, Redis calls within smtp.redis_timeout). Needs: a Herald (its recordFeedback verb, events, metrics) whose config
 * has a `bounce` section (its VERP keys and complaint address read from `herald.config` at each
 * RCPT, so a live reload applies to the next one); optionally a classifier pool (default: CLASSIFIER_THREADS threads with
 * CLASSIFY_BUDGET_MS each), which it starts and stops. Each report is a `bounce.intake` span
 * (intake-trace.ts), linked to the original message's trace when it is matched.
 */
import { readFileSync } from 'node:fs';
import type { Herald } from '@herald/delivery-core';
import { HeraldError } from '@herald/delivery-core';
import { parseOperatorRules, RulesFileError } from '@herald/delivery-core/bounce';
import { parseListen } from '@herald/delivery-core/config';
import { DeadlineExceeded, withDeadline } from '@herald/delivery-core/door';
import { type Arrival, decodeToken, verpContext } from '@herald/delivery-core/feedback';
import {
  createDoorGuard,
  listenerErrorLevel,
  receiveGuarded,
  SERVER_MAX_CLIENTS_SLACK,
  smtpError,
  useOwnEnhancedCodes,
} from '@herald/smtp-listener';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { type ClassifierPool, createClassifierPool } from './classifier-pool.js';
import type { RulesText } from './classifier-thread.js';
import { type IntakeTrace, traceIntake } from './intake-trace.js';

/** Bounces and complaint reports are small; a bigger message is refused at DATA. */
export const MAX_BOUNCE_BYTES = 10 * 1024 * 1024;
const MAX_CLIENTS = 200;
const SOCKET_TIMEOUT_MS = 60_000;
const CLOSE_GRACE_MS = 5_000;

export interface BounceProcessorOptions {
  /** Reads messages off the event loop; default: createClassifierPool with its defaults. */
  classifier?: ClassifierPool;
}

export interface BounceProcessor {
  /** Listens on `bounce.listen` (port 0: any); resolves with the address. */
  start(): Promise<{ host: string; port: number }>;
  stop(): Promise<void>;
}

const arrivals = new WeakMap<SMTPServerSession, Arrival>();

/** Who RCPT accepts under `config`: VERP return paths its keys sign, and its complaint address. */
function recipientRules(config: Herald['config']) {
  const verp = verpContext(config);
  // A reload keeps the running `bounce` section when the new file has none (planReload).
  if (!verp) throw new HeraldError('HERALD_CONFIG_INVALID', 'the bounce-processor needs a `bounce` section');
  return { config, verp, complaintAddress: config.bounce?.complaint_address?.toLowerCase() };
}

export function createBounceProcessor(herald: Herald, options: BounceProcessorOptions = {}): BounceProcessor {
  const { config, logger } = herald;
  const bounce = config.bounce;
  if (!bounce || !verpContext(config))
    throw new HeraldError(
      'HERALD_CONFIG_INVALID',
      'the bounce-processor needs a `bounce` section in the config',
    );
  // The operator rules file is read at start (a reload does not re-read it: restart-only).
  const bounceRules = bounce.rules_file ? readRulesFile(bounce.rules_file) : undefined;
  // The VERP keys and the complaint address of the config in force: a live reload
  // (BOUNCE_PROCESSOR_LIVE_PATHS) swaps them for the next RCPT. Rebuilt once per config.
  let recipients = recipientRules(config);
  const rules = () => {
    if (recipients.config !== herald.config) recipients = recipientRules(herald.config);
    return recipients;
  };
  const classifier =
    options.classifier ?? createClassifierPool({ logger, ...(bounceRules ? { rules: bounceRules } : {}) });
  // The relay's door (smtp.client_limits, session and DATA limits): this listener faces the Internet.
  const guard = createDoorGuard({
    smtp: config.smtp,
    maxClients: MAX_CLIENTS,
    tls: false,
    events: herald.events,
    metrics: herald.metrics,
    logger,
  });
  const unavailable = () => smtpError(451, '4.3.0', 'Temporary local problem, try again later');
  /** Reads a report off the event loop and acts on it; resolves with the 250 text. */
  const takeReport = async (arrival: Arrival, raw: Buffer): Promise<string> => {
    const trace = traceIntake(herald, arrival);
    try {
      const text = await readAndRecord(arrival, raw, trace);
      trace.end();
      return text;
    } catch (err) {
      trace.end(err instanceof Error ? err.message : String(err));
      throw err;
    }
  };
  const readAndRecord = async (arrival: Arrival, raw: Buffer, trace: IntakeTrace): Promise<string> => {
    const read = await classifier.classify(raw);
    trace.classified(read.outcome === 'read' ? read.report : undefined, read.outcome);
    const about =
      arrival.kind === 'verp' ? { tenant: arrival.token.tenant, messageId: arrival.token.messageId } : {};
    if (read.outcome !== 'read') {
      logger.warn(
        { ...about, outcome: read.outcome },
        'bounce-processor: report not read; dropped as undefined',
      );
      return `2.0.0 Ok: report not readable (${read.outcome}); dropped`;
    }
    try {
      // Redis calls have the door's deadline (smtp.redis_timeout); a late write is harmless: the
      // once-marker keeps the sender's retry from counting twice.
      const result = await withDeadline(
        herald.recordFeedback({ arrival, report: read.report, returnPaths: read.returnPaths }),
        guard.redisTimeoutMs,
        'feedback intake',
      );
      if (result.ignored)
        logger.info({ ...about, reason: result.ignored }, 'bounce-processor: nothing to act on');
      if (result.repeated) logger.info(about, 'bounce-processor: repeated report; nothing changed');
      await trace.recorded(result);
      return `2.0.0 Ok: ${result.events.length} recipient report(s) taken`;
    } catch (err) {
      if (err instanceof DeadlineExceeded) herald.metrics.smtpRedisTimeouts.inc({ stage: 'data' });
      logger.error({ err }, 'bounce-processor could not record a report');
      throw unavailable();
    }
  };
  const server = new SMTPServer({
    name: config.smtp.hostname,
    banner: 'Herald bounce-processor',
    size: MAX_BOUNCE_BYTES,
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    hideENHANCEDSTATUSCODES: false,
    maxClients: MAX_CLIENTS + SERVER_MAX_CLIENTS_SLACK,
    socketTimeout: SOCKET_TIMEOUT_MS,
    disableReverseLookup: true,
    logger: false,
    onConnect: (session, callback) => guard.onConnect(session, callback),
    onClose: (session) => guard.onClose(session),
    onMailFrom(_address, session, callback) {
      guard.mailAccepted(session);
      callback();
    },
    onRcptTo(address, session, callback) {
      const rcpt = address.address.toLowerCase();
      // One recipient per transaction: a report is about one return path (or is a complaint).
      if (session.envelope.rcptTo.length > 0) {
        guard.excuseNextError(session);
        return callback(smtpError(452, '4.5.3', 'one recipient per bounce, please'));
      }
      const { verp, complaintAddress } = rules();
      if (complaintAddress && rcpt === complaintAddress) {
        arrivals.set(session, { kind: 'complaint' });
        return callback();
      }
      const decoded = decodeToken(rcpt, verp, Date.now());
      if (!decoded.ok) {
        logger.info({ rcpt, reason: decoded.reason }, 'bounce-processor refused a recipient');
        return callback(
          smtpError(550, '5.1.1', `<${address.address}>: no such return path (${decoded.reason})`),
        );
      }
      arrivals.set(session, { kind: 'verp', token: decoded });
      return callback();
    },
    onData(stream, session, callback) {
      // A transfer the door cuts (DATA deadline, minimum rate) is answered by the door and closed.
      // Every refusal here is excused: a forged token was already counted at RCPT.
      const done = (err?: Error | null, message?: string) => {
        if (err) guard.excuseNextError(session);
        else guard.messageAccepted(session);
        callback(err, message);
      };
      receiveGuarded(guard, session, stream, done, {
        tooBig: () => smtpError(552, '5.3.4', 'message too big for a bounce'),
        take: (raw) => {
          const arrival = arrivals.get(session);
          if (!arrival) return Promise.reject(smtpError(503, '5.5.1', 'no valid recipient'));
          return takeReport(arrival, raw);
        },
      });
    },
  });
  guard.attach(server);
  useOwnEnhancedCodes(server);
  // A failure to listen is start()'s rejection, not a log line as well.
  let listening = false;
  server.on(
    'error',
    (err) => listening && logger[listenerErrorLevel(err)]({ err }, 'bounce-processor listener error'),
  );
  return {
    start: async () => {
      await classifier.start();
      // A listener that cannot listen stops the classifier threads it started (else they keep
      // the process alive).
      return new Promise<{ host: string; port: number }>((resolve, reject) => {
        const { host, port } = parseListen(bounce.listen);
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          listening = true;
          const address = server.server.address();
          resolve({ host, port: typeof address === 'object' && address ? address.port : port });
        });
      }).catch(async (err: unknown) => {
        await classifier.stop();
        throw err;
      });
    },
    stop: async () => {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, CLOSE_GRACE_MS);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      await classifier.stop();
    },
  };
}

/**
 * The operator rules file (`bounce.rules_file`), read and checked once at start: a file that does
 * not parse stops the daemon with HERALD_BOUNCE_RULES_INVALID naming the key; the threads get
 * its text and parse it again (a RegExp does not cross threads).
 */
function readRulesFile(file: string): RulesText {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new HeraldError('HERALD_CONFIG_INVALID', `bounce.rules_file: ${(err as Error).message}`);
  }
  try {
    parseOperatorRules(text, file);
  } catch (err) {
    if (err instanceof RulesFileError) throw new HeraldError(err.code, err.message);
    throw err;
  }
  return { text, source: file };
}

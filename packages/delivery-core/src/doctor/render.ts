/**
 * The doctor's output: a table (check, status, reason, with the fix on its own line below) sized
 * to a line width, a one-line tally, and the JSON form `{domain, checks:[{id, status, reason, fix,
 * details}]}`. Pure.
 */
import { CHECK_STATUSES, type DoctorReport } from './types.js';

export const TABLE_WIDTH = 110;
const STATUS_WIDTH = 6;
const GAP = '  ';

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines.length > 0 ? lines : [''];
}

/** "4 pass, 1 warn, 1 fail, 3 info". */
export function tally(report: DoctorReport): string {
  return CHECK_STATUSES.map((s) => `${report.checks.filter((c) => c.status === s).length} ${s}`).join(', ');
}

export function renderTable(report: DoctorReport, width = TABLE_WIDTH): string {
  const idWidth = Math.max('CHECK'.length, ...report.checks.map((c) => c.id.length));
  const indent = ' '.repeat(idWidth + GAP.length + STATUS_WIDTH + GAP.length);
  const textWidth = Math.max(30, width - indent.length);
  const out = [`${'CHECK'.padEnd(idWidth)}${GAP}${'STATUS'.padEnd(STATUS_WIDTH)}${GAP}REASON / FIX`];
  for (const c of report.checks) {
    const reason = wrap(c.reason, textWidth);
    out.push(`${c.id.padEnd(idWidth)}${GAP}${c.status.padEnd(STATUS_WIDTH)}${GAP}${reason[0]}`);
    for (const more of reason.slice(1)) out.push(`${indent}${more}`);
    if (c.fix !== '' && c.status !== 'pass')
      for (const line of wrap(`fix: ${c.fix}`, textWidth)) out.push(`${indent}${line}`);
  }
  out.push('', `${report.domain}: ${tally(report)}`);
  return `${out.join('\n')}\n`;
}

export function renderJson(report: DoctorReport): string {
  const checks = report.checks.map((c) => ({
    id: c.id,
    status: c.status,
    reason: c.reason,
    fix: c.fix,
    details: c.details ?? {},
  }));
  return `${JSON.stringify({ domain: report.domain, checks }, null, 2)}\n`;
}

/** How values and versions are printed for people. */
import type { Version } from '@koru/delta';
import type { Colors } from './io.js';

/** The first 12 hex digits of an id: enough to tell versions apart on screen. */
export function shortId(id: string | null): string {
  return id === null ? '(none)' : id.slice(0, 12);
}

/** A JSON value, pretty-printed. */
export function pretty(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/** One line about a version: id, time, and value or "(deleted)". */
export function versionLine(v: Version, c: Colors, withValue = true): string {
  const what = v.deleted ? c.red('(deleted)') : withValue ? JSON.stringify(v.value) : '';
  return `${c.yellow(shortId(v.versionId))}  ${c.dim(v.timestamp)}  ${what}`.trimEnd();
}

/** The metadata lines of `get -v`. */
export function versionHeader(v: Version, c: Colors): string[] {
  return [
    `${c.bold('version')}   ${c.yellow(v.versionId)}`,
    `${c.bold('timestamp')} ${v.timestamp}`,
    `${c.bold('previous')}  ${v.previousVersion ?? '(none: first version)'}`,
    `${c.bold('value id')}  ${v.valueId ?? '(tombstone)'}`,
    `${c.bold('node')}      ${v.node}  ${c.dim(`hlc ${v.hlc}`)}`,
  ];
}

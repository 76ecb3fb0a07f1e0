// The sync status line: online or offline, and how many local changes the server has not
// acknowledged yet (edits made offline wait there until the server is back).

/**
 * Calls `show(state, text)` now and at every status change of `link` (a `db.sync` handle).
 * `state` is `online` or `offline`, or `local` when the sync could not start (`error`).
 */
export function describeSync(link, error, show) {
  if (link === undefined) {
    show('local', `not syncing (${error?.code ?? error?.message ?? error}): changes stay in this browser`);
    return () => {};
  }
  const update = (s) => {
    const pending = s.pending === 0 ? 'all changes synced' : `${s.pending} change${s.pending === 1 ? '' : 's'} pending`;
    const error = s.error !== undefined && !s.online ? ` (${s.error.code})` : '';
    show(s.online ? 'online' : 'offline', `${s.online ? 'online' : `offline${error}`}, ${pending}`);
  };
  update(link.status);
  return link.onStatus(update);
}

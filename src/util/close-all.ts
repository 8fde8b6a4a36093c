/**
 * Releases several things even when some fail: every closer runs, then the first failure is
 * thrown. One stuck or failing resource must not keep the others (a model, a cache still being
 * written) from being released.
 */
export async function closeAll(closers: readonly (() => unknown)[]): Promise<void> {
  const results = await Promise.allSettled(closers.map(async (close) => close()));
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

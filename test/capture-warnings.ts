/**
 * Tests that expect a process warning capture and assert it rather than let Node print it: Node's own printer
 * is taken off while `fn` runs (and a tick after, when warnings are emitted), then put back.
 */
export type ProcessWarning = Error & { code?: string };

export async function captureProcessWarnings<T>(
  fn: () => Promise<T> | T,
): Promise<{ value: T; warnings: ProcessWarning[] }> {
  const saved = process.listeners('warning');
  process.removeAllListeners('warning');
  const warnings: ProcessWarning[] = [];
  const collect = (w: ProcessWarning) => warnings.push(w);
  process.on('warning', collect);
  try {
    const value = await fn();
    await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    return { value, warnings };
  } finally {
    process.off('warning', collect);
    for (const l of saved) process.on('warning', l);
  }
}

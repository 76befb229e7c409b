/** A hook that stops a commit at its point until `release()`; `reached` settles when it got there. */
export function pausePoint(): { hook: () => Promise<void>; reached: Promise<void>; release: () => void } {
  let arrived!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((resolve) => (arrived = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  return { hook: () => (arrived(), released), reached, release };
}

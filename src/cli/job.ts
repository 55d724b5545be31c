/**
 * Running a core job (an async generator of events that returns an outcome, such as
 * `runDownload` and `runSeed`) from a command: each event to the renderer, then the outcome.
 */
export async function drainJob<E, R>(job: AsyncGenerator<E, R, undefined>, onEvent: (ev: E) => void): Promise<R> {
  for (;;) {
    const step = await job.next();
    if (step.done) return step.value;
    onEvent(step.value);
  }
}

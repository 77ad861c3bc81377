// A minimal typed listener list for the integration services' host APIs (state changes, guest responses).
// A listener that throws is logged and does not stop the others or reach the VMBus server.

export type Unsubscribe = () => void;

export class Listeners<E> {
  private readonly fns = new Set<(event: E) => void>();

  constructor(private readonly log: (msg: string) => void) {}

  add(fn: (event: E) => void): Unsubscribe {
    this.fns.add(fn);
    return () => { this.fns.delete(fn); };
  }

  emit(event: E): void {
    for (const fn of this.fns) {
      try { fn(event); } catch (err) { this.log(`listener threw: ${err instanceof Error ? err.message : String(err)}`); }
    }
  }
}

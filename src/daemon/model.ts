/**
 * The object model: every object the daemon manages (lans, ports, links ...),
 * each with a unique name, in creation order. What an object holds beyond its
 * kind, name and creation time is its kind module's business (src/kinds/);
 * native ids stay in those records, and users only ever see names.
 */

/** What every object has. Each kind's module extends it with its own fields. */
export interface ModelObject {
  /** the name of the kind module that made it and answers for it (src/kinds/) */
  kind: string;
  /** unique among all objects */
  name: string;
  created: Date;
  /** administratively down (`set NAME --down`, src/daemon/linkstate.ts): an
   *  object with engine ports only; shown and kept in the state file */
  adminDown?: boolean;
  /** the lab (topology file) whose apply made it, if any (docs/topology.md):
   *  a request's top-level "lab" marks what it makes */
  lab?: string;
}

/** All objects by name. */
export class ObjectModel {
  private readonly byName = new Map<string, ModelObject>();
  private readonly added = new Set<(o: ModelObject) => void>();

  /** Call @fn with every object added from now on (a capture of a lan
   *  follows the lan's new ports); returns what stops it. */
  onAdd(fn: (o: ModelObject) => void): () => void {
    this.added.add(fn);
    return () => this.added.delete(fn);
  }

  /** Is @name taken? */
  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Object named @name, if any. */
  get(name: string): ModelObject | undefined {
    return this.byName.get(name);
  }

  /** Add @o; its name must be free. */
  add(o: ModelObject): void {
    if (this.byName.has(o.name)) throw new Error(`an object named "${o.name}" already exists`);
    this.byName.set(o.name, o);
    for (const fn of [...this.added]) fn(o);
  }

  /** Forget the object named @name. */
  remove(name: string): void {
    this.byName.delete(name);
  }

  /** Every object, in creation order. */
  all(): ModelObject[] {
    return [...this.byName.values()];
  }

  /** Every object of kind module @kind, in creation order. */
  ofKind<O extends ModelObject>(kind: string): O[] {
    return this.all().filter((o) => o.kind === kind) as O[];
  }
}

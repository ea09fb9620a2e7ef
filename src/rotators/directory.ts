/**
 * Lets the Secrets Manager API ask "is a webhook rotator of this name configured?" before it
 * writes anything, so RotateSecret with an unknown RotationLambdaARN is refused the way AWS
 * refuses it (InvalidRequestException), not as a policy denial on the schedule path.
 *
 * The rotators engine mounted at `mountPath` attaches its lookup when it starts and detaches it
 * when it stops; while none is attached, every name is unknown.
 * Must never: reveal anything about a rotator beyond whether its name exists.
 */
export interface RotatorDirectory {
  readonly mountPath: string;
  exists(name: string): Promise<boolean>;
  /** Returns the function that detaches this lookup (and only this one). */
  attach(lookup: (name: string) => Promise<boolean>): () => void;
}

export function createRotatorDirectory(mountPath = 'rotators/'): RotatorDirectory {
  let current: ((name: string) => Promise<boolean>) | undefined;
  return {
    mountPath,
    exists: async (name) => (current ? current(name) : false),
    attach(lookup) {
      current = lookup;
      return () => {
        if (current === lookup) current = undefined;
      };
    },
  };
}

// What the bench measures and what its report reads: the types both share (bench.ts writes
// them, report.ts renders them; neither imports the other's module for them).

/** One line of output: `measure` names the measurement. */
export type Line = { measure: string } & Record<string, unknown>;

export interface ModelRef {
  name: string;
  dir: string;
  architecture: string;
  parameters: number;
  manifest_sha256: string;
  weights: 'trained' | 'random';
  /** Optimizer steps from the manifest's `training` entry (null: none recorded). */
  training_steps: number | null;
}

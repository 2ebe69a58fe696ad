// Vitest global setup for the end-to-end suite: one stack for all test files.
import type { TestProject } from 'vitest/node';
import { startStack } from './stack';

declare module 'vitest' {
  export interface ProvidedContext {
    e2e: { ui: string; api: string; token: string; dataDir: string; embedded: boolean };
  }
}

export default async function setup(project: TestProject) {
  const stack = await startStack();
  const { stop, ...ctx } = stack;
  project.provide('e2e', ctx);
  return stop;
}

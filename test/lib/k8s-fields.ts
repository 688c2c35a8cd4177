/**
 * Unknown fields in Kubernetes objects: the JSON schemas (kubernetes-models) allow any extra
 * property, as Kubernetes' OpenAPI does, so a misspelt `readinesProbe` would pass them and be
 * dropped by the API server. This check types each object as an object literal of its
 * kubernetes-models interface and asks the TypeScript compiler, whose excess-property check
 * rejects every field the type does not have, at any depth.
 * Owns: a virtual source file compiled in memory. Guarantees: a kind without a type here is a
 * problem, never a pass. Needs: the typescript package and kubernetes-models' .d.ts files.
 */
import { join } from 'node:path';
import ts from 'typescript';
import type { K8sObject } from './deploy-files.js';

const TYPES: Record<string, [module: string, type: string]> = {
  'apps/v1 Deployment': ['kubernetes-models/apps/v1', 'IDeployment'],
  'v1 Service': ['kubernetes-models/v1', 'IService'],
  'v1 ConfigMap': ['kubernetes-models/v1', 'IConfigMap'],
  'v1 Secret': ['kubernetes-models/v1', 'ISecret'],
  'policy/v1 PodDisruptionBudget': ['kubernetes-models/policy/v1', 'IPodDisruptionBudget'],
  'autoscaling/v2 HorizontalPodAutoscaler': ['kubernetes-models/autoscaling/v2', 'IHorizontalPodAutoscaler'],
};

const OPTIONS: ts.CompilerOptions = {
  strict: true,
  noEmit: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  skipLibCheck: true,
  types: [],
};

/** One line per field the object's Kubernetes type does not have (or other type error), named by object. */
export function unknownFieldProblems(objects: K8sObject[], resolveFrom: string): string[] {
  const problems: string[] = [];
  const imports = new Map<string, Set<string>>();
  const lines: string[] = [];
  const owner: string[] = [];
  objects.forEach((object, i) => {
    const type = TYPES[`${object.apiVersion} ${object.kind}`];
    if (!type) {
      problems.push(
        `${object.kind} ${object.metadata.name}: no type for ${object.apiVersion} ${object.kind}`,
      );
      return;
    }
    const [module, name] = type;
    imports.set(module, (imports.get(module) ?? new Set()).add(name));
    // One property per line, so a diagnostic's line names its object.
    for (const line of `export const o${i}: ${name} = ${JSON.stringify(object, null, 1)};`.split('\n')) {
      lines.push(line);
      owner.push(`${object.kind} ${object.metadata.name}`);
    }
  });
  const header = [...imports].map(
    ([module, names]) => `import type { ${[...names].join(', ')} } from '${module}';`,
  );
  const source = [...header, ...lines].join('\n');
  const fileName = join(resolveFrom, '__k8s_objects__.ts');
  const host = ts.createCompilerHost(OPTIONS);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version, ...rest) =>
    name === fileName ? ts.createSourceFile(name, source, version) : getSourceFile(name, version, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === fileName || fileExists(name);
  const program = ts.createProgram([fileName], OPTIONS, host);
  for (const diagnostic of ts.getPreEmitDiagnostics(program, program.getSourceFile(fileName))) {
    const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ');
    const line =
      diagnostic.file && diagnostic.start !== undefined
        ? diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line - header.length
        : -1;
    problems.push(`${owner[line] ?? 'the check itself'}: ${text}`);
  }
  return problems;
}

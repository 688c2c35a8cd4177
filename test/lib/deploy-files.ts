/**
 * Reading the deployment files offline for test/deploy-manifests.test.ts: YAML documents, a
 * kustomization rendered the way `kubectl kustomize` does for the subset deploy/k8s uses
 * (resources — files or other kustomizations —, configMapGenerator / secretGenerator from files,
 * images, patches that are whole objects merged by name), and the Kubernetes schema of each kind
 * (kubernetes-models: the OpenAPI schemas of Kubernetes 1.27 compiled to ajv validators).
 * Owns: nothing but reads. Guarantees: a kind without a schema here, an unknown kustomization key
 * or a patch matching no object is an error, never a silent pass. Generated names carry no hash
 * suffix (kubectl kustomize adds one; the references are the same either way).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { hashPassword } from '@herald/delivery-core';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: manifests are checked against schemas, not typed here
  [key: string]: any;
};

/** The kinds deploy/k8s uses, each with its schema. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1 Deployment': Deployment,
  'v1 Service': Service,
  'v1 ConfigMap': ConfigMap,
  'v1 Secret': Secret,
  'policy/v1 PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2 HorizontalPodAutoscaler': HorizontalPodAutoscaler,
};

const KUSTOMIZATION_KEYS = new Set([
  'apiVersion',
  'kind',
  'resources',
  'images',
  'configMapGenerator',
  'secretGenerator',
  'patches',
]);

/** Every YAML document of a file (empty ones skipped); a YAML error throws with the file's name. */
export function readYamlDocuments(path: string): unknown[] {
  const documents = parseAllDocuments(readFileSync(path, 'utf8'));
  const list = Array.isArray(documents) ? documents : [documents];
  return list
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0]!.message}`);
      return doc.toJS() as unknown;
    })
    .filter((value) => value !== null && value !== undefined);
}

export function readYaml(path: string): unknown {
  const [first] = readYamlDocuments(path);
  return first;
}

/** The schema problems of one object ([] when valid); an unknown kind is a problem too. */
export function schemaProblems(object: K8sObject): string[] {
  const Model = MODELS[`${object.apiVersion} ${object.kind}`];
  if (!Model) return [`no schema for ${object.apiVersion} ${object.kind} (add its kubernetes-models class)`];
  try {
    new Model(object as never).validate();
    return [];
  } catch (err) {
    return [(err as Error).message];
  }
}

interface Generator {
  name: string;
  type?: string;
  files?: string[];
  literals?: string[];
}

/** Renders a kustomization folder into its objects (see the header for the subset). */
export function renderKustomization(dir: string): K8sObject[] {
  const file = join(dir, 'kustomization.yaml');
  const spec = readYaml(file) as Record<string, unknown>;
  for (const key of Object.keys(spec)) {
    if (!KUSTOMIZATION_KEYS.has(key)) throw new Error(`${file}: ${key} is not rendered by this test`);
  }
  const objects: K8sObject[] = [];
  for (const resource of (spec.resources as string[] | undefined) ?? []) {
    const path = join(dir, resource);
    if (resource.endsWith('.yaml')) objects.push(...(readYamlDocuments(path) as K8sObject[]));
    else objects.push(...renderKustomization(path));
  }
  for (const gen of (spec.configMapGenerator as Generator[] | undefined) ?? []) {
    objects.push({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: gen.name },
      data: generated(dir, gen),
    });
  }
  for (const gen of (spec.secretGenerator as Generator[] | undefined) ?? []) {
    const data = Object.fromEntries(
      Object.entries(generated(dir, gen)).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    );
    objects.push({
      apiVersion: 'v1',
      kind: 'Secret',
      type: gen.type ?? 'Opaque',
      metadata: { name: gen.name },
      data,
    });
  }
  for (const patch of (spec.patches as { path: string }[] | undefined) ?? []) {
    const overlay = readYaml(join(dir, patch.path)) as K8sObject;
    const target = objects.find((o) => o.kind === overlay.kind && o.metadata.name === overlay.metadata.name);
    if (!target) throw new Error(`${file}: patch ${patch.path} matches no object`);
    mergeObject(target, overlay);
  }
  const images = (spec.images as { name: string; newName?: string; newTag?: string }[] | undefined) ?? [];
  for (const object of objects) for (const container of podContainers(object)) setImage(container, images);
  return objects;
}

/** What `kubectl kustomize DIR` prints, parsed; undefined when kubectl is not installed. */
export function kubectlKustomize(dir: string): K8sObject[] | undefined {
  const run = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 });
  if (run.error && (run.error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
  if (run.status !== 0) throw new Error(`kubectl kustomize ${dir}: ${run.stderr || run.error?.message}`);
  const objects = parseAllDocuments(run.stdout).map((doc) => doc.toJS() as K8sObject);
  // kustomize folds a long base64 value over lines; the API server's decoder (Go's) skips the
  // newlines, the schema's "byte" pattern does not.
  for (const o of objects.filter((x) => x.kind === 'Secret')) {
    for (const key of Object.keys(o.data ?? {})) o.data[key] = String(o.data[key]).replace(/\n/g, '');
  }
  return objects;
}

function generated(dir: string, gen: Generator): Record<string, string> {
  const data: Record<string, string> = {};
  for (const entry of gen.files ?? []) {
    const [key, path] = entry.includes('=')
      ? (entry.split('=', 2) as [string, string])
      : [basename(entry), entry];
    data[key] = readFileSync(join(dir, path), 'utf8');
  }
  for (const literal of gen.literals ?? []) {
    const at = literal.indexOf('=');
    data[literal.slice(0, at)] = literal.slice(at + 1);
  }
  return data;
}

/** A strategic merge for objects whose lists have no merge keys: mappings merge, the rest replaces. */
function mergeObject(target: Record<string, unknown>, patch: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(patch)) {
    const current = target[key];
    if (isMapping(current) && isMapping(value)) mergeObject(current, value);
    else target[key] = value;
  }
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// biome-ignore lint/suspicious/noExplicitAny: see K8sObject
type Container = Record<string, any>;

/** The init containers and containers of a workload's pod template ([] for other kinds). */
export function podContainers(object: K8sObject): Container[] {
  const pod = object.spec?.template?.spec;
  if (!pod) return [];
  return [...(pod.initContainers ?? []), ...(pod.containers ?? [])];
}

function setImage(container: Container, images: { name: string; newName?: string; newTag?: string }[]) {
  const image = String(container.image);
  const rule = images.find((i) => i.name === image || image.startsWith(`${i.name}:`));
  if (!rule) return;
  const [name, tag] = image.split(':');
  container.image = `${rule.newName ?? name}:${rule.newTag ?? tag ?? 'latest'}`;
}

/** The kustomization folders under deploy/k8s: the base and every overlay. */
export function kustomizationDirs(root: string): string[] {
  const overlays = readdirSync(join(root, 'overlays'), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name);
  return [join(root, 'base'), ...overlays.map((name) => join(root, 'overlays', name))];
}

/** A path in the repository (this file is test/lib/deploy-files.ts). */
export const repoPath = (...parts: string[]) => join(import.meta.dirname, '..', '..', ...parts);

/** The Secret's secrets.yaml with the placeholders replaced by real values. */
export async function writeRealSecrets(dir: string): Promise<string> {
  const file = join(dir, 'secrets.yaml');
  const hash = await hashPassword('a password of the deploy test');
  await writeFile(
    file,
    `smtp:\n  users:\n    - { username: app, password_hash: "${hash}" }\nbounce:\n  verp_secret: "0123456789abcdef0123456789abcdef"\n`,
  );
  return file;
}

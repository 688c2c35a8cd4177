/**
 * deploy/k8s, checked offline (no cluster, no network): every kustomization renders (this file's
 * renderer, and `kubectl kustomize` where installed), every object validates against the
 * Kubernetes 1.27 schemas of kubernetes-models and has no field its type lacks (TypeScript's
 * excess-property check on kubernetes-models' interfaces), images are pinned, and the manifests agree with
 * Herald itself: probes and ports with the listen addresses of the config the pods run, mounts
 * with the files that config names, env names with what Herald reads, the grace period with the
 * relay's shutdown deadlines. The config the init container merges (deploy/config-overlay.mjs) is
 * refused while the Secret's placeholders are there and valid once they are replaced.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type HeraldConfig, parseConfig, parseListen, REDIS_URL_ENV } from '@herald/delivery-core/config';
import { loadShapingFile } from '@herald/delivery-core/shaping';
import { buildConfig } from '../deploy/config-overlay.mjs';
import {
  type K8sObject,
  kubectlKustomize,
  kustomizationDirs,
  podContainers,
  renderKustomization,
  repoPath,
  schemaProblems,
  writeRealSecrets,
} from './lib/deploy-files.js';
import { unknownFieldProblems } from './lib/k8s-fields.js';

const K8S = repoPath('deploy', 'k8s');
const BASE = join(K8S, 'base');
/** Secrets the base mounts but does not generate: created by cert-manager or kubectl (deploy/k8s/README.md). */
const EXTERNAL_SECRETS: Record<string, string[]> = { 'herald-smtp-tls': ['tls.crt', 'tls.key'] };
/** Env names a pod may set: what Herald reads, or what a container's arguments expand as $(NAME). */
const HERALD_ENV = new Set([REDIS_URL_ENV]);

const base = renderKustomization(BASE);
const byKind = (kind: string) => base.filter((o) => o.kind === kind);
const named = (kind: string, name: string) => base.find((o) => o.kind === kind && o.metadata.name === name);
const dataOf = (o: K8sObject): Record<string, string> =>
  o.kind === 'Secret'
    ? Object.fromEntries(
        Object.entries(o.data as Record<string, string>).map(([k, v]) => [
          k,
          Buffer.from(v, 'base64').toString(),
        ]),
      )
    : o.data;

test('every kustomization renders and every object validates against the Kubernetes schemas', () => {
  for (const dir of kustomizationDirs(K8S)) {
    const objects = renderKustomization(dir);
    assert.ok(objects.length >= 8, `${dir}: rendered ${objects.length} objects`);
    for (const object of objects) {
      assert.deepEqual(schemaProblems(object), [], `${dir}: ${object.kind} ${object.metadata.name}`);
    }
  }
  const kinds = base.map((o) => `${o.kind}/${o.metadata.name}`).sort();
  for (const expected of [
    'Deployment/herald-relay',
    'Deployment/herald-bounce-processor',
    'Service/herald-relay',
    'Service/herald-bounce-processor',
    'PodDisruptionBudget/herald-relay',
    'HorizontalPodAutoscaler/herald-relay',
    'ConfigMap/herald-config',
    'Secret/herald-secrets',
    'Secret/herald-dkim',
  ]) {
    assert.ok(kinds.includes(expected), `${expected} in ${kinds.join(', ')}`);
  }
  // A typo'd field is caught: the schema check is not a pass-everything.
  const broken = structuredClone(named('Deployment', 'herald-relay')!);
  broken.spec.template.spec.containers[0].ports[0].containerPort = 'smtp';
  assert.match(schemaProblems(broken).join(), /containerPort must be integer/);
});

test('no object has a field Kubernetes does not know (a typo would be dropped silently)', () => {
  const all = kustomizationDirs(K8S).flatMap((dir) => renderKustomization(dir));
  // The check catches one: a misspelt probe on a copy of the relay.
  const typo = structuredClone(named('Deployment', 'herald-relay')!);
  typo.metadata.name = 'herald-relay-typo';
  const container = typo.spec.template.spec.containers[0];
  container.readinesProbe = container.readinessProbe;
  delete container.readinessProbe;
  const problems = unknownFieldProblems([...all, typo], repoPath('test'));
  assert.equal(problems.length, 1, problems.join('\n'));
  assert.match(
    problems[0]!,
    /^Deployment herald-relay-typo: .*'"readinesProbe"' does not exist in type 'IContainer'/,
  );
});

test('kubectl kustomize renders the same objects, and they validate', (t) => {
  for (const dir of kustomizationDirs(K8S)) {
    const rendered = kubectlKustomize(dir);
    if (!rendered) return t.skip('kubectl is not installed: only this file’s renderer ran');
    const mine = renderKustomization(dir);
    const names = (list: K8sObject[]) =>
      list.map((o) => `${o.kind}/${o.metadata.name.replace(/-[a-z0-9]{10}$/, '')}`).sort();
    assert.deepEqual(names(rendered), names(mine), dir);
    for (const object of rendered) assert.deepEqual(schemaProblems(object), [], `${dir}: ${object.kind}`);
    const hpa = rendered.find((o) => o.kind === 'HorizontalPodAutoscaler')!;
    const myHpa = mine.find((o) => o.kind === 'HorizontalPodAutoscaler')!;
    assert.deepEqual(hpa.spec, myHpa.spec, `${dir}: the HPA as kustomize patches it`);
  }
});

test('images are pinned to a tag that is not latest', () => {
  for (const dir of kustomizationDirs(K8S)) {
    for (const object of renderKustomization(dir)) {
      for (const container of podContainers(object)) {
        assert.match(
          container.image,
          /^[a-z0-9./-]+(:[A-Za-z0-9._-]+)?(@sha256:[a-f0-9]{64})?$/,
          container.image,
        );
        assert.ok(/:[^/]+$|@sha256:/.test(container.image), `${container.image}: no tag`);
        assert.doesNotMatch(container.image, /:latest\b/, `${object.metadata.name}: ${container.image}`);
      }
    }
  }
});

test('the shipped Secret is refused by name until its placeholders are replaced, then the merged config is valid', async () => {
  const files = [join(BASE, 'config', 'herald.yaml'), join(BASE, 'secrets', 'secrets.yaml')];
  assert.throws(
    () => buildConfig({ files, env: {} }),
    (err: Error) =>
      /smtp\.users\[0\]\.password_hash/.test(err.message) && /bounce\.verp_secret/.test(err.message),
  );
  const dir = await mkdtemp(join(tmpdir(), 'herald-deploy-'));
  try {
    const secrets = await writeRealSecrets(dir);
    const merged = buildConfig({ files: [files[0]!, secrets], nodeId: 'herald-relay-7d9f-abcde', env: {} });
    const config = parseConfig(merged, {
      env: { REDIS_URL: dataOf(named('Secret', 'herald-secrets')!)['redis-url'] },
    });
    assert.equal(config.node_id, 'herald-relay-7d9f-abcde');
    assert.equal(config.smtp.users.length, 1);
    assert.match(config.redis.url ?? '', /^rediss:\/\//, 'the Redis URL of the Secret is TLS');
    // The shaping file of the ConfigMap loads as the relay loads it.
    assert.ok(loadShapingFile(join(BASE, 'config', 'shaping.yaml')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('probes, ports, mounts and env agree with the config each pod runs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'herald-deploy-'));
  let config: HeraldConfig;
  try {
    const merged = buildConfig({
      files: [join(BASE, 'config', 'herald.yaml'), await writeRealSecrets(dir)],
      env: {},
    });
    config = parseConfig(merged, { env: {} });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const daemons: Record<string, { smtp: string; http: string; files: string[] }> = {
    relay: {
      smtp: config.smtp.listen,
      http: config.http.listen,
      files: [
        config.shaping.file!,
        ...config.dkim.map((d) => d.key_file!),
        config.smtp.tls.cert_file!,
        config.smtp.tls.key_file!,
      ],
    },
    'bounce-processor': {
      smtp: config.bounce!.listen,
      http: config.bounce!.http_listen,
      files: [config.shaping.file!, ...config.dkim.map((d) => d.key_file!)],
    },
  };
  for (const deployment of byKind('Deployment')) {
    const pod = deployment.spec.template.spec;
    const [init] = pod.initContainers;
    const [main] = pod.containers;
    const daemon = daemons[main.args[0]];
    assert.ok(daemon, `${deployment.metadata.name} runs ${main.args[0]}`);
    // The init container writes the file the daemon reads, from the ConfigMap's and the Secret's halves.
    const out = init.args.find((a: string) => a.startsWith('--out='))!.slice('--out='.length);
    assert.equal(main.args[main.args.indexOf('--config') + 1], out);
    const sourceOf = (container: typeof main, path: string) => {
      const mount = container.volumeMounts.find((m: { mountPath: string }) =>
        path.startsWith(`${m.mountPath}/`),
      );
      assert.ok(mount, `${deployment.metadata.name}/${container.name}: nothing mounted at ${path}`);
      const volume = pod.volumes.find((v: { name: string }) => v.name === mount.name);
      const key = path.slice(mount.mountPath.length + 1);
      const ref = volume.configMap?.name ?? volume.secret?.secretName;
      if (volume.emptyDir) return { ref: 'emptyDir', key };
      const object = named(volume.configMap ? 'ConfigMap' : 'Secret', ref);
      const keys = object ? Object.keys(dataOf(object)) : EXTERNAL_SECRETS[ref];
      assert.ok(keys, `${deployment.metadata.name}: ${ref} is neither generated nor a known external Secret`);
      if (volume.secret?.items) assert.ok(volume.secret.items.some((i: { path: string }) => i.path === key));
      assert.ok(keys.includes(key), `${ref} has no key ${key} (has ${keys.join(', ')})`);
      return { ref, key };
    };
    const inputs = init.args.filter((a: string) => !a.startsWith('--'));
    assert.deepEqual(
      inputs.map((p: string) => sourceOf(init, p)),
      [
        { ref: 'herald-config', key: 'herald.yaml' },
        { ref: 'herald-secrets', key: 'secrets.yaml' },
      ],
    );
    assert.equal(sourceOf(main, out).ref, 'emptyDir');
    for (const file of daemon.files) sourceOf(main, file);
    // Listeners on every interface of the pod, on the container's named ports.
    const port = (name: string) => main.ports.find((p: { name: string }) => p.name === name)?.containerPort;
    for (const [name, listen] of [
      ['smtp', daemon.smtp],
      ['http', daemon.http],
    ] as const) {
      const { host, port: configured } = parseListen(listen);
      assert.ok(['0.0.0.0', '::', ''].includes(host), `${listen}: kubelet and Services cannot reach ${host}`);
      assert.equal(port(name), configured, `${deployment.metadata.name}: port ${name}`);
    }
    assert.deepEqual(main.readinessProbe.httpGet, { path: '/readyz', port: 'http' });
    assert.deepEqual(main.livenessProbe.httpGet, { path: '/healthz', port: 'http' });
    assert.deepEqual(main.startupProbe.httpGet, { path: '/healthz', port: 'http' });
    // Env: only what Herald reads, or what an argument expands.
    for (const container of [init, main]) {
      for (const { name, valueFrom } of container.env ?? []) {
        const expanded = [...(container.command ?? []), ...container.args].some((a: string) =>
          a.includes(`$(${name})`),
        );
        assert.ok(HERALD_ENV.has(name) || expanded, `${container.name}: env ${name} is read by nothing`);
        const ref = valueFrom?.secretKeyRef;
        if (ref)
          assert.ok(
            Object.keys(dataOf(named('Secret', ref.name)!)).includes(ref.key),
            `${ref.name}/${ref.key}`,
          );
      }
    }
    // Services reach the pods' named ports; PDBs select them.
    const labels = deployment.spec.template.metadata.labels;
    const selects = (selector: Record<string, string>) =>
      Object.entries(selector).every(([k, v]) => labels[k] === v);
    const service = byKind('Service').find((s) => selects(s.spec.selector));
    assert.ok(service, `a Service selects ${deployment.metadata.name}`);
    for (const p of service.spec.ports)
      assert.ok(port(p.targetPort), `${service.metadata.name}: ${p.targetPort}`);
    assert.ok(byKind('PodDisruptionBudget').some((b) => selects(b.spec.selector.matchLabels)));
  }
});

test("the relay's grace period covers its shutdown deadlines, and the HPA scales the relay", async () => {
  // The deadlines as the relay's sources name them (a renamed constant fails here, loudly).
  const constant = async (file: string, name: string) => {
    const match = new RegExp(`const ${name} = ([\\d_]+);`).exec(await readFile(repoPath(file), 'utf8'));
    assert.ok(match, `${file}: ${name}`);
    return Number(match[1]!.replaceAll('_', '')) / 1000;
  };
  const smtpClose = await constant('apps/relay/src/relay.ts', 'SMTP_CLOSE_TIMEOUT_MS');
  const threadsStop = await constant('apps/relay/src/thread-host.ts', 'STOP_TIMEOUT_MS');
  const closeStep = await constant('packages/delivery-core/src/herald.ts', 'CLOSE_STEP_TIMEOUT_MS');
  const pod = named('Deployment', 'herald-relay')!.spec.template.spec;
  const preStop = Number(pod.containers[0].lifecycle.preStop.exec.command.at(-1));
  const needed = preStop + smtpClose + threadsStop + 2 * closeStep;
  assert.ok(
    pod.terminationGracePeriodSeconds >= needed,
    `grace ${pod.terminationGracePeriodSeconds} s < ${needed} s (preStop ${preStop} + SMTP ${smtpClose} + threads ${threadsStop} + Redis ${2 * closeStep})`,
  );
  const hpa = named('HorizontalPodAutoscaler', 'herald-relay')!;
  assert.deepEqual(hpa.spec.scaleTargetRef, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    name: 'herald-relay',
  });
  assert.ok(hpa.spec.minReplicas >= 2, 'two relays at least, so the PDB can let one go');
  const requests = pod.containers[0].resources.requests;
  assert.ok(requests.cpu, 'CPU utilisation needs a CPU request');
});

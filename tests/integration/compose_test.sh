#!/usr/bin/env bash
# docker-compose.yml checked offline (no Docker engine): Debian's
# docker-compose validates the file against the Compose schema and prints it
# normalised; a checker then verifies that every host file or folder a service
# mounts exists in the repository (./secrets excepted: it holds credentials
# and is never committed), that ports are published on 127.0.0.1 only, and
# that the configs agree with the compose file: Prometheus's scrape, alerting
# and rule-file paths, the exporter's and detector's listen ports, the
# detector's Prometheus and exporter URLs, Alertmanager's templates, Grafana's
# datasource and dashboards, health checks and the backfill hand-over.
# Then the stack runs without Docker: the services' own command lines, with
# container paths mapped to the mounted host paths and ports to free loopback
# ports, and the real binaries, promtool, prometheus and alertmanager.
# A broken copy (exporter listening on another port) must be rejected.
source "$(dirname "$0")/lib.sh"
SRC=$CICD_SOURCE_DIR

command -v docker-compose >/dev/null \
  || fail "docker-compose is not installed (Debian package docker-compose; scripts/install-deps.sh installs it)"
/usr/bin/python3 -c 'import yaml' 2>/dev/null || fail "python3-yaml is not installed"

# The checker: prints every mismatch and exits 1, or writes what the live
# part needs (mapped configs, command lines) into OUT and exits 0.
#   check.py REPO OUT EXPORTER_PORT DETECTOR_PORT PROMETHEUS_PORT ALERTMANAGER_PORT
cat >"$WORK/check.py" <<'PY'
import glob, json, os, re, shlex, subprocess, sys
import yaml

root, out = os.path.realpath(sys.argv[1]), sys.argv[2]
test_ports = dict(zip(["exporter", "detector", "prometheus", "alertmanager"], map(int, sys.argv[3:7])))
errors = []
err = errors.append
os.makedirs(out, exist_ok=True)

run = subprocess.run(["docker-compose", "-f", os.path.join(root, "docker-compose.yml"),
                      "--project-directory", root, "config"], capture_output=True, text=True)
if run.returncode != 0:
    sys.exit("docker-compose config rejects the file:\n" + run.stderr)
compose = yaml.safe_load(run.stdout)
services = compose.get("services", {})
volumes = set((compose.get("volumes") or {}).keys())

for name in ["exporter", "detector", "prometheus", "alertmanager", "grafana"]:
    if name not in services:
        sys.exit(f"service {name} missing from docker-compose.yml")

def image(s):
    return services[s].get("image", "")

def argv(s, key="command"):
    c = services[s].get(key) or []
    return shlex.split(c) if isinstance(c, str) else list(c)

def flag(args, name, default=None):
    for i, a in enumerate(args):
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
        if a == name and i + 1 < len(args):
            return args[i + 1]
    return default

def mounts(s):
    res = []
    for v in services[s].get("volumes", []):
        if isinstance(v, str):
            parts = v.split(":")
            src, tgt, mode = parts[0], parts[1], parts[2] if len(parts) > 2 else "rw"
            kind = "bind" if src.startswith("/") else "volume"
            ro = "ro" in mode.split(",")
        else:
            src, tgt, kind, ro = v.get("source"), v["target"], v.get("type"), v.get("read_only", False)
        res.append({"kind": kind, "src": src, "tgt": tgt.rstrip("/") or "/", "ro": ro})
    return sorted(res, key=lambda m: -len(m["tgt"]))

def resolve(s, path):
    """(mount, rest) for a container path of service s, or (None, None)."""
    for m in mounts(s):
        if path == m["tgt"] or path.startswith(m["tgt"] + "/"):
            return m, path[len(m["tgt"]):].lstrip("/")
    return None, None

secrets_dir = os.path.join(root, "secrets")

def is_secret(path):
    path = os.path.realpath(path)
    return path == secrets_dir or path.startswith(secrets_dir + "/")

def host(s, path, what):
    """The host path of a bind-mounted container path, or None (and an error)."""
    m, rest = resolve(s, path)
    if m is None or m["kind"] != "bind":
        err(f"{s}: {what} {path} is not on a mounted host file or folder")
        return None
    return os.path.join(m["src"], rest) if rest else m["src"]

def simulated(s, path):
    """Where the live part keeps a container path: the host path of a bind
    mount, or OUT/vol/NAME/... for a named volume."""
    m, rest = resolve(s, path)
    if m is None:
        return None
    if m["kind"] == "volume":
        base = os.path.join(out, "vol", m["src"])
    elif is_secret(m["src"]):  # never write into the repository's secrets folder
        base = os.path.join(out, "secrets", os.path.relpath(os.path.realpath(m["src"]), secrets_dir))
    else:
        base = m["src"]
    return os.path.join(base, rest) if rest else base

def on_volume(s, path, what):
    m, rest = resolve(s, path)
    if m is None or m["kind"] != "volume" or m["src"] not in volumes:
        err(f"{s}: {what} {path} is not on a named volume (lost when the container is recreated)")
    elif m["ro"]:
        err(f"{s}: {what} {path} is on a read-only mount")
    return (m["src"], rest) if m else None

def load(path, what):
    try:
        with open(path) as f:
            return yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as e:
        err(f"{what}: cannot read {path}: {e}")
        return {}

def port_of(address):
    m = re.fullmatch(r"(?:\[?[^\]]*\]?)?:(\d+)", str(address))
    return int(m.group(1)) if m else None

def hostport(url):
    m = re.match(r"(?:\w+://)?([^/:]+):(\d+)", url)
    return (m.group(1), int(m.group(2))) if m else (None, None)

def duration_s(d):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    total, pos = 0.0, 0
    for m in re.finditer(r"(\d+)(ms|[smhdwy])", d):
        total += int(m.group(1)) * units[m.group(2)]
        pos += len(m.group(0))
    return total if d and pos == len(d) else None

# --- host files: every bind mount inside the repository and present ---------
for s in services:
    for m in mounts(s):
        if m["kind"] != "bind":
            if m["src"] not in volumes:
                err(f"{s}: volume {m['src']} is not declared under volumes:")
            continue
        src = os.path.realpath(m["src"])
        if src != root and not src.startswith(root + "/"):
            err(f"{s}: mounts {m['src']}, outside the repository")
        elif is_secret(src):
            pass  # credentials: created by the operator, never in the repository
        elif not os.path.exists(src):
            err(f"{s}: mounted host path {os.path.relpath(src, root)} does not exist in the repository")
        elif re.search(r"\.(ya?ml|json|jsonl|tmpl)$", m["tgt"]) and not os.path.isfile(src):
            err(f"{s}: {m['tgt']} is a file in the container but {os.path.relpath(src, root)} is not a file")

# --- ports: loopback only on the host ----------------------------------------
published = {}
for s in services:
    for p in services[s].get("ports", []):
        if isinstance(p, dict):
            ip, target = p.get("host_ip", ""), int(p["target"])
        else:
            parts = str(p).split("/")[0].split(":")
            ip, target = (parts[0] if len(parts) == 3 else ""), int(parts[-1])
        if ip != "127.0.0.1":
            err(f"{s}: port {p} is not published on 127.0.0.1 only")
        published.setdefault(s, set()).add(target)

# --- the image: Dockerfile sources, exposed ports, user ----------------------
built = [s for s in services if services[s].get("build")]
dockerfile_text, exposed = "", set()
for s in built:
    b = services[s]["build"]
    ctx = b if isinstance(b, str) else b.get("context", ".")
    df = os.path.join(ctx, b.get("dockerfile", "Dockerfile") if isinstance(b, dict) else "Dockerfile")
    if not os.path.isfile(df):
        err(f"{s}: no Dockerfile at {df}")
        continue
    dockerfile_text = open(df).read()
    ignored = []
    if os.path.isfile(os.path.join(ctx, ".dockerignore")):
        ignored = [l.strip() for l in open(os.path.join(ctx, ".dockerignore")) if l.strip() and not l.startswith("#")]
    for line in re.findall(r"^COPY\s+(?!--from)(.+)$", dockerfile_text, re.M):
        for src in line.split()[:-1]:
            if src.startswith("--") or src == ".":
                continue
            if not os.path.exists(os.path.join(ctx, src)):
                err(f"Dockerfile: COPY {src}: not in the build context")
            if any(src == i or src.startswith(i.rstrip("/") + "/") for i in ignored):
                err(f"Dockerfile: COPY {src}: excluded by .dockerignore")
    exposed = {int(p) for l in re.findall(r"^EXPOSE\s+(.+)$", dockerfile_text, re.M) for p in l.split()}
    last_stage = dockerfile_text.rsplit("\nFROM ", 1)[-1]
    users = re.findall(r"^USER\s+(\S+)", last_stage, re.M)
    if not users or users[-1].split(":")[0] in ("root", "0"):
        err("Dockerfile: the runtime stage does not run as a non-root user")

# --- exporter and detector: their configs against the compose file -----------
prom_args, alertmanager_args = argv("prometheus"), argv("alertmanager")
listen = {"prometheus": port_of(flag(prom_args, "--web.listen-address", ":9090")),
          "alertmanager": port_of(flag(alertmanager_args, "--web.listen-address", ":9093")),
          "grafana": int((services["grafana"].get("environment") or {}).get("GF_SERVER_HTTP_PORT", 3000))}
cfgs = {}
for s, binary in [("exporter", "cicd-exporter"), ("detector", "cicd-detector")]:
    args = argv(s)
    if not args or args[0] != binary:
        err(f"{s}: command does not run {binary}: {args}")
    path = flag(args, "--config.file")
    if path is None:
        err(f"{s}: command has no --config.file")
        continue
    hp = host(s, path, "--config.file")
    if hp is None:
        continue
    cfg = cfgs[s] = load(hp, s)
    address = flag(args, "--web.listen-address", (cfg.get("web") or {}).get("listen_address"))
    port = port_of(address) if address else None
    if port is None:
        err(f"{s}: cannot tell the listen port of {os.path.relpath(hp, root)} (web.listen_address {address!r})")
        continue
    if address.split(":")[0] in ("127.0.0.1", "localhost"):
        err(f"{s}: listens on {address}: loopback inside the container is unreachable for the other services")
    listen[s] = port
    if s in published and published[s] != {port}:
        err(f"{s}: config listens on {port} but the compose file publishes container port(s) {sorted(published[s])}")
    if exposed and port not in exposed:
        err(f"{s}: listens on {port} but the Dockerfile exposes {sorted(exposed)}")

exporter_cfg = cfgs.get("exporter", {})
for i, src in enumerate(exporter_cfg.get("sources") or []):
    if src.get("file"):
        hp = host("exporter", src["file"], f"sources[{i}].file")
        if hp and not os.path.isfile(hp):
            err(f"exporter: sources[{i}].file {src['file']} -> {hp} does not exist")
if exporter_cfg.get("state_file"):
    on_volume("exporter", os.path.dirname(exporter_cfg["state_file"]), "state_file")

detector_cfg = cfgs.get("detector", {})
prom_url = (detector_cfg.get("prometheus") or {}).get("url", "")
if hostport(prom_url) != ("prometheus", listen["prometheus"]):
    err(f"detector: prometheus.url {prom_url!r} is not the prometheus service on port {listen['prometheus']}")
if detector_cfg.get("exporter_url") and hostport(detector_cfg["exporter_url"]) != ("exporter", listen.get("exporter")):
    err(f"detector: exporter_url {detector_cfg['exporter_url']!r} is not the exporter service on port {listen.get('exporter')}")
if not detector_cfg.get("state_dir"):
    err("detector: no state_dir: models are retrained on every restart")
else:
    on_volume("detector", detector_cfg["state_dir"], "state_dir")

# --- Prometheus ---------------------------------------------------------------
if published.get("prometheus", {listen["prometheus"]}) != {listen["prometheus"]}:
    err(f"prometheus: listens on {listen['prometheus']} but publishes {sorted(published['prometheus'])}")
prom_path = flag(prom_args, "--config.file", "/etc/prometheus/prometheus.yml")
prom_host = host("prometheus", prom_path, "--config.file")
prom_cfg = load(prom_host, "prometheus") if prom_host else {}

def check_target(where, target, want_service=None):
    h, p = hostport(target)
    svc = "prometheus" if h in ("localhost", "127.0.0.1") else h
    if svc not in services:
        err(f"prometheus: {where} target {target}: no compose service {h!r}")
    elif want_service and svc != want_service:
        err(f"prometheus: {where} target {target} is not the {want_service} service")
    elif listen.get(svc) != p:
        err(f"prometheus: {where} target {target}: service {svc} listens on {listen.get(svc)}")
    return svc

jobs = {}
for job in prom_cfg.get("scrape_configs") or []:
    targets = [t for sc in job.get("static_configs") or [] for t in sc.get("targets") or []]
    jobs[job["job_name"]] = [check_target(f"job {job['job_name']}", t) for t in targets]
for job, svc in [("cicd-exporter", "exporter"), ("cicd-detector", "detector")]:
    if jobs.get(job) != [svc]:
        err(f"prometheus: job {job!r} must scrape the {svc} service, scrapes {jobs.get(job)}")
# An instance label rewritten to a host address (the alerts' status_page link)
# must be where the host publishes that service.
host_ports = {}
for s in services:
    for p in services[s].get("ports", []):
        if isinstance(p, dict):
            host_ports[(s, int(p["target"]))] = f"{p.get('host_ip', '')}:{p.get('published')}"
        else:
            parts = str(p).split("/")[0].split(":")
            host_ports[(s, int(parts[-1]))] = ":".join(parts[:-1])
for job in prom_cfg.get("scrape_configs") or []:
    for rc in job.get("relabel_configs") or []:
        if rc.get("target_label") == "instance" and "replacement" in rc and jobs.get(job["job_name"]):
            svc = jobs[job["job_name"]][0]
            want = host_ports.get((svc, listen.get(svc)))
            if rc["replacement"] != want:
                err(f"prometheus: job {job['job_name']} sets instance={rc['replacement']}, "
                    f"but the host reaches {svc} at {want}")
am_targets = [t for am in (prom_cfg.get("alerting") or {}).get("alertmanagers") or []
              for sc in am.get("static_configs") or [] for t in sc.get("targets") or []]
if not am_targets:
    err("prometheus: no alerting.alertmanagers target")
for t in am_targets:
    check_target("alerting", t, "alertmanager")
rule_globs = []
for pattern in prom_cfg.get("rule_files") or []:
    full = pattern if pattern.startswith("/") else os.path.join(os.path.dirname(prom_path), pattern)
    hp = host("prometheus", full, "rule_files entry")
    if hp is None:
        continue
    if not glob.glob(hp):
        err(f"prometheus: rule_files {pattern} matches nothing ({os.path.relpath(hp, root)})")
    rule_globs.append(hp)
if not rule_globs:
    err("prometheus: no rule_files")
tsdb = flag(prom_args, "--storage.tsdb.path", "/prometheus")
tsdb_volume = on_volume("prometheus", tsdb, "--storage.tsdb.path")
if "--web.enable-lifecycle" not in prom_args:
    err("prometheus: --web.enable-lifecycle missing (reload after editing rules)")

# --- the backfill hand-over: history -> promtool -> Prometheus's TSDB ---------
history = [s for s in services if "backfill" in argv(s) and argv(s)[:1] == ["cicd-exporter"]]
promtool = [s for s in services if "create-blocks-from" in " ".join(argv(s, "entrypoint") + argv(s))]
backfill = {}
if len(history) != 1 or len(promtool) != 1:
    err(f"expected one cicd-exporter backfill service and one promtool service, got {history} and {promtool}")
else:
    h, p = history[0], promtool[0]
    h_args = argv(h)
    since, retention = flag(h_args, "--since"), flag(prom_args, "--storage.tsdb.retention.time", "15d")
    if since is None or duration_s(since) is None or duration_s(retention) is None \
            or duration_s(retention) <= duration_s(since):
        err(f"prometheus: retention {retention} must be longer than the backfilled history (--since {since})")
    h_cfg, e_cfg = flag(h_args, "--config.file"), flag(argv("exporter"), "--config.file")
    if h_cfg is None or e_cfg is None or resolve(h, h_cfg)[0] is None or \
            resolve(h, h_cfg)[0]["src"] != (resolve("exporter", e_cfg)[0] or {}).get("src"):
        err(f"{h}: does not read the exporter's config")
    output = flag(h_args, "--output", "-")
    script = " ".join(argv(p))
    m = re.search(r"create-blocks-from openmetrics(?: --\S+)* (\S+) (\S+)", script)
    if not m:
        err(f"{p}: cannot find promtool's input and output in {script!r}")
    else:
        written, read = resolve(h, output), resolve(p, m.group(1))
        if written[0] is None or read[0] is None or (written[0]["src"], written[1]) != (read[0]["src"], read[1]):
            err(f"{p}: reads {m.group(1)}, which is not where {h} writes {output}")
        blocks = resolve(p, m.group(2))
        if tsdb_volume and (blocks[0] is None or (blocks[0]["src"], blocks[1]) != tsdb_volume):
            err(f"{p}: writes blocks to {m.group(2)}, not to Prometheus's {tsdb}")
    deps = lambda s: services[s].get("depends_on") or {}
    if (deps(p).get(h) or {}).get("condition") != "service_completed_successfully":
        err(f"{p}: must wait for {h} to complete")
    for s in ("prometheus", "exporter"):
        if (deps(s).get(p) or {}).get("condition") != "service_completed_successfully":
            err(f"{s}: must wait for {p} to complete")
    # The live part runs the same command lines on mapped paths.
    targets = "|".join(re.escape(mnt["tgt"]) for mnt in mounts(p))
    sim_script = re.sub(rf"(?<![\w/.-])({targets})(?=[/\s]|$)", lambda t: simulated(p, t.group(1)), script)
    sim_history = []
    for a in h_args[1:]:
        name, _, value = a.partition("=")
        if name == "--config.file":
            a = f"{name}={os.path.join(out, 'exporter.yml')}"  # the exporter's, mapped below
        elif value.startswith("/") and simulated(h, value):
            a = f"{name}={simulated(h, value)}"
        sim_history.append(a)
    backfill = {"history": sim_history, "script": sim_script}
    for mnt in mounts(h):
        if mnt["kind"] == "volume":
            os.makedirs(simulated(h, mnt["tgt"]), exist_ok=True)
    os.makedirs(simulated("prometheus", tsdb), exist_ok=True)

# --- Alertmanager -------------------------------------------------------------
am_path = flag(alertmanager_args, "--config.file", "/etc/alertmanager/alertmanager.yml")
am_host = host("alertmanager", am_path, "--config.file")
# json round trip: YAML aliases (a receiver reused with *anchor) become copies.
am_cfg = json.loads(json.dumps(load(am_host, "alertmanager"))) if am_host else {}
on_volume("alertmanager", flag(alertmanager_args, "--storage.path", "/alertmanager"), "--storage.path")
if published.get("alertmanager", {listen["alertmanager"]}) != {listen["alertmanager"]}:
    err(f"alertmanager: listens on {listen['alertmanager']} but publishes {sorted(published['alertmanager'])}")
# Template globs resolve against the config's folder in the container; one
# that matches nothing there is allowed (Alertmanager ignores it), but the
# mounted ones must define every template the receivers use.
mapped_templates, defined = [], set()
for pattern in am_cfg.get("templates") or []:
    full = pattern if pattern.startswith("/") else os.path.join(os.path.dirname(am_path), pattern)
    m, rest = resolve("alertmanager", full)
    if m is None or m["kind"] != "bind":
        continue
    hp = simulated("alertmanager", full)
    for f in glob.glob(hp):
        defined |= set(re.findall(r'{{-?\s*define\s+"([^"]+)"', open(f).read()))
    mapped_templates.append(hp)
if am_cfg:
    def strings(node):
        if isinstance(node, dict):
            return [x for v in node.values() for x in strings(v)]
        if isinstance(node, list):
            return [x for v in node for x in strings(v)]
        return [node] if isinstance(node, str) else []
    used = {t for text in strings(am_cfg.get("receivers")) for t in re.findall(r'{{-?\s*template\s+"([^"]+)"', text)}
    if not defined and am_cfg.get("templates"):
        err(f"alertmanager: no templates {am_cfg['templates']} match a mounted file in the container")
    if used - defined:
        err(f"alertmanager: templates used but not defined by the mounted template files: {sorted(used - defined)}")
    am_cfg["templates"] = mapped_templates

def map_files(node, where):
    """Every *_file path (credentials) must be on a mount; mapped for amtool."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k.endswith("_file") and isinstance(v, str):
                full = v if v.startswith("/") else os.path.join(os.path.dirname(am_path), v)
                m, rest = resolve("alertmanager", full)
                if m is None:
                    err(f"alertmanager: {where}.{k} {v} is not on a mount")
                else:
                    node[k] = simulated("alertmanager", full)
            else:
                map_files(v, f"{where}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            map_files(v, f"{where}[{i}]")
map_files(am_cfg, "alertmanager.yml")

# --- Grafana ------------------------------------------------------------------
prov = "/etc/grafana/provisioning"
ds_dir = host("grafana", prov + "/datasources", "provisioning folder")
prom_ds = 0
for f in sorted(glob.glob(os.path.join(ds_dir, "*.y*ml")) if ds_dir else []):
    for ds in load(f, "grafana datasource").get("datasources") or []:
        if ds.get("type") == "prometheus":
            prom_ds += 1
            if hostport(ds.get("url", "")) != ("prometheus", listen["prometheus"]):
                err(f"grafana: datasource {ds.get('name')} url {ds.get('url')!r} is not the prometheus service on {listen['prometheus']}")
            interval = (ds.get("jsonData") or {}).get("timeInterval")
            scrape = (prom_cfg.get("global") or {}).get("scrape_interval", "1m")
            if interval and duration_s(interval) != duration_s(scrape):
                err(f"grafana: datasource {ds.get('name')} timeInterval {interval} differs from Prometheus's scrape_interval {scrape}")
if ds_dir and not prom_ds:
    err("grafana: no Prometheus datasource provisioned")
db_dir = host("grafana", prov + "/dashboards", "provisioning folder")
providers = [p for f in sorted(glob.glob(os.path.join(db_dir, "*.y*ml")) if db_dir else [])
             for p in load(f, "grafana dashboards provider").get("providers") or []]
if db_dir and not providers:
    err("grafana: no dashboards provider provisioned")
for p in providers:
    path = (p.get("options") or {}).get("path", "")
    hp = host("grafana", path, f"dashboards provider {p.get('name')!r} path")
    if hp is None:
        continue
    found = glob.glob(os.path.join(hp, "**", "*.json"), recursive=True)
    if not found:
        err(f"grafana: no dashboard .json under {os.path.relpath(hp, root)}")
    for f in found:
        try:
            json.load(open(f))
        except ValueError as e:
            err(f"grafana: {os.path.relpath(f, root)} is not JSON: {e}")

# --- health checks: right port, a tool the image has ------------------------
health = {}
for s in services:
    test = (services[s].get("healthcheck") or {}).get("test") or []
    text = " ".join(test) if isinstance(test, list) else test
    m = re.search(r"http://(127\.0\.0\.1|localhost):(\d+)(/\S*)", text)
    if not m:
        if s in ("exporter", "detector", "prometheus", "alertmanager", "grafana"):
            err(f"{s}: no HTTP health check")
        continue
    if int(m.group(2)) != listen.get(s):
        err(f"{s}: health check uses port {m.group(2)}, the service listens on {listen.get(s)}")
    tool = test[1] if isinstance(test, list) and len(test) > 1 else ""
    if s in built or image(s) == image(built[0] if built else ""):
        runtime = dockerfile_text.rsplit("\nFROM ", 1)[-1]
        if tool and not re.search(rf"\b{re.escape(tool)}\b", runtime):
            err(f"{s}: health check runs {tool}, which the image's runtime stage does not install")
    health[s] = m.group(3)

if errors:
    print("\n".join("MISMATCH: " + e for e in errors))
    sys.exit(1)

# --- mapped copies for the live part -------------------------------------------
def dump(name, data):
    with open(os.path.join(out, name), "w") as f:
        yaml.safe_dump(data, f, sort_keys=False)

local = {s: f"127.0.0.1:{p}" for s, p in test_ports.items()}
exporter_cfg["web"] = dict(exporter_cfg.get("web") or {}, listen_address=local["exporter"])
for src in exporter_cfg.get("sources") or []:
    if src.get("file"):
        src["file"] = simulated("exporter", src["file"])
dump("exporter.yml", exporter_cfg)
detector_cfg["web"] = dict(detector_cfg.get("web") or {}, listen_address=local["detector"])
detector_cfg["prometheus"]["url"] = "http://" + local["prometheus"]
detector_cfg["exporter_url"] = "http://" + local["exporter"]
detector_cfg["state_dir"] = simulated("detector", detector_cfg["state_dir"])
os.makedirs(detector_cfg["state_dir"], exist_ok=True)
detector_cfg.setdefault("schedule", {})["detect_interval"] = "1s"
dump("detector.yml", detector_cfg)
prom_cfg["rule_files"] = rule_globs
prom_cfg["global"] = dict(prom_cfg.get("global") or {}, scrape_interval="1s", evaluation_interval="1s")
rewrite = lambda t: local.get("prometheus" if hostport(t)[0] == "localhost" else hostport(t)[0], t)
for job in prom_cfg.get("scrape_configs") or []:
    for sc in job.get("static_configs") or []:
        sc["targets"] = [rewrite(t) for t in sc["targets"]]
for am in prom_cfg["alerting"]["alertmanagers"]:
    for sc in am.get("static_configs") or []:
        sc["targets"] = [rewrite(t) for t in sc["targets"]]
dump("prometheus.yml", prom_cfg)
dump("alertmanager.yml", am_cfg)

def live_args(s, args, config):
    res = []
    for a in args:
        name, _, value = a.partition("=")
        if name == "--config.file":
            res.append(f"{name}={config}")
        elif name == "--web.listen-address":
            continue
        elif value.startswith("/") and simulated(s, value):
            res.append(f"{name}={simulated(s, value)}")
        else:
            res.append(a)
    return res + [f"--web.listen-address={local[s]}"]

os.makedirs(simulated("alertmanager", flag(alertmanager_args, "--storage.path", "/alertmanager")), exist_ok=True)
with open(os.path.join(out, "plan.sh"), "w") as f:
    q = lambda l: " ".join(shlex.quote(x) for x in l)
    f.write(f"prometheus_args=({q(live_args('prometheus', prom_args, os.path.join(out, 'prometheus.yml')))})\n")
    f.write(f"alertmanager_args=({q(live_args('alertmanager', alertmanager_args, os.path.join(out, 'alertmanager.yml')))})\n")
    f.write(f"history_args=({q(backfill['history'])})\n")
    f.write(f"backfill_script={shlex.quote(backfill['script'])}\n")
    f.write(f"tsdb={shlex.quote(simulated('prometheus', tsdb))}\n")
    f.write(f"scrape_jobs=({q(sorted(jobs))})\n")
    for s, path in health.items():
        f.write(f"health_{s}={shlex.quote(path)}\n")
print(f"compose: {len(services)} services, {sum(len(mounts(s)) for s in services)} mounts, "
      f"{len(jobs)} scrape jobs, {len(rule_globs)} rule globs checked")
PY

exp_port=$(free_port)
det_port=$(free_port)
prom_port=$(free_port)
am_port=$(free_port)

# Schema first: docker-compose's own validation.
docker-compose -f "$SRC/docker-compose.yml" --project-directory "$SRC" config -q 2>"$WORK/config.err" \
  || fail "docker-compose config -q: $(cat "$WORK/config.err")"

/usr/bin/python3 "$WORK/check.py" "$SRC" "$WORK/plan" "$exp_port" "$det_port" "$prom_port" "$am_port" \
  >"$WORK/check.out" 2>&1 || fail "compose check:
$(cat "$WORK/check.out")"
cat "$WORK/check.out"

# A copy with the exporter listening elsewhere must be rejected, naming it.
mkdir -p "$WORK/broken"
cp -r "$SRC/docker-compose.yml" "$SRC/Dockerfile" "$SRC/.dockerignore" "$SRC/config" "$SRC/data" "$WORK/broken/"
for d in rules dashboards; do [[ -e $SRC/$d ]] && cp -r "$SRC/$d" "$WORK/broken/"; done
sed -i 's/listen_address: ":9801"/listen_address: ":9811"/' "$WORK/broken/config/compose/exporter.yml"
grep -q ':9811' "$WORK/broken/config/compose/exporter.yml" || fail "could not break the copy"
if /usr/bin/python3 "$WORK/check.py" "$WORK/broken" "$WORK/broken-plan" 1 2 3 4 >"$WORK/broken.out" 2>&1; then
  fail "the checker accepted an exporter listening on 9811"
fi
grep -q "exporter: config listens on 9811 but the compose file publishes container port(s) \[9801\]" "$WORK/broken.out" \
  || fail "broken copy: unexpected report: $(cat "$WORK/broken.out")"
grep -q "target exporter:9801: service exporter listens on 9811" "$WORK/broken.out" \
  || fail "broken copy: scrape target mismatch not reported: $(cat "$WORK/broken.out")"

# The stack without Docker: the compose command lines on mapped paths.
history_args=() backfill_script="" tsdb="" prometheus_args=() alertmanager_args=() scrape_jobs=()
# shellcheck disable=SC1091  # written by the checker above
source "$WORK/plan/plan.sh"
[[ -n ${health_exporter:-} && -n ${health_detector:-} && -n ${health_prometheus:-} && -n ${health_alertmanager:-} ]] \
  || fail "health check paths missing from the plan"

# history, then prometheus-backfill (twice: the second run must skip).
"$CICD_BIN/cicd-exporter" "${history_args[@]}" >"$WORK/history.log" 2>&1 || fail "history service: $(cat "$WORK/history.log")"
sh -c "$backfill_script" >"$WORK/backfill1.log" 2>&1 \
  || fail "prometheus-backfill service: $(cat "$WORK/backfill1.log")"
ls "$tsdb"/*/meta.json >/dev/null 2>&1 || fail "no TSDB block written to $tsdb: $(cat "$WORK/backfill1.log")"
sh -c "$backfill_script" >"$WORK/backfill2.log" 2>&1 || fail "second backfill: $(cat "$WORK/backfill2.log")"
grep -q "already backfilled" "$WORK/backfill2.log" || fail "second backfill did not skip: $(cat "$WORK/backfill2.log")"

promtool check config "$WORK/plan/prometheus.yml" >"$WORK/promtool.log" 2>&1 || fail "promtool: $(cat "$WORK/promtool.log")"
amtool check-config "$WORK/plan/alertmanager.yml" >"$WORK/amtool.log" 2>&1 || fail "amtool: $(cat "$WORK/amtool.log")"

start alertmanager prometheus-alertmanager "${alertmanager_args[@]}"
start prometheus prometheus "${prometheus_args[@]}"
start exporter "$CICD_BIN/cicd-exporter" --config.file="$WORK/plan/exporter.yml"
start detector "$CICD_BIN/cicd-detector" serve --config.file="$WORK/plan/detector.yml"
# Each service's own health check URL.
wait_http "http://127.0.0.1:$am_port$health_alertmanager" 30
wait_http "http://127.0.0.1:$prom_port$health_prometheus" 30
wait_http "http://127.0.0.1:$exp_port$health_exporter" 30
wait_http "http://127.0.0.1:$det_port$health_detector" 30

P="http://127.0.0.1:$prom_port"
query() { curl -fsS -G "$P/api/v1/query" --data-urlencode "query=$1"; }
value() {  # value QUERY: the first sample's value, or empty
  query "$1" | /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
# The backfilled history survives the retention flag: all 8 demo pipelines.
[[ $(value 'count(count by (pipeline) (count_over_time(cicd_pipeline_last_run_duration_seconds[60d])))') == 8 ]] \
  || fail "backfilled history not in Prometheus: $(query 'count_over_time(cicd_pipeline_last_run_duration_seconds[60d])' | head -c 300)"
# Rules loaded from the mounted rules folder.
rules=$(curl -fsS "$P/api/v1/rules" | /usr/bin/python3 -c 'import json,sys; print(sum(len(g["rules"]) for g in json.load(sys.stdin)["data"]["groups"]))')
((rules > 0)) || fail "Prometheus loaded no rules"
# Every scrape job up (targets rewritten to the local ports); Alertmanager found.
for ((i = 0; i < 40; i++)); do
  up=$(value 'count(up == 1)')
  [[ $up == "${#scrape_jobs[@]}" ]] && break
  sleep 0.5
done
[[ $up == "${#scrape_jobs[@]}" ]] || fail "up == 1 for $up of ${#scrape_jobs[@]} jobs (${scrape_jobs[*]}): $(query 'up')"
[[ $(value 'count(up{job="cicd-exporter"} == 1) + count(up{job="cicd-detector"} == 1)') == 2 ]] \
  || fail "jobs cicd-exporter and cicd-detector not both up: $(query 'up')"
curl -fsS "$P/api/v1/alertmanagers" | grep -q "127.0.0.1:$am_port" || fail "Prometheus does not see Alertmanager"
# The detector trains every demo pipeline from the backfilled history it
# reads through Prometheus.
trained() {
  curl -fsS "http://127.0.0.1:$det_port/api/v1/status" >"$WORK/status.json" || return 1
  /usr/bin/python3 - "$WORK/status.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
ready = [p for p in s["pipelines"] if p["state"] == "ready" and p["samples"] >= 30]
sys.exit(0 if len(ready) == 8 and not s["training"] else 1)
PY
}
for ((i = 0; i < 60; i++)); do
  trained && break
  sleep 0.5
done
trained || fail "detector did not train the 8 demo pipelines: $(head -c 600 "$WORK/status.json")"
echo "compose_test: ok (rules: $rules, scrape jobs up: $up)"

"""`make audit`: bandit (medium severity and above) and pip-audit on the pinned requirements.

bandit must be clean; its accepted findings are `# nosec BXXX` comments next to
the code, each with its reason (pyproject.toml [tool.bandit] lists them).

pip-audit asks PyPI's advisory service about every pinned package (with its
dependencies). Where that service cannot be reached (a machine with only a
package mirror), pip-audit skips every package and still says "No known
vulnerabilities found": this script reports that as NOT AUDITED, with the
reason, and does not fail the build for it; a reported vulnerability always
fails it, unless its id is in IGNORED below with the reason.
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
REQUIREMENTS = ["requirements.txt", "requirements-dev.txt"]
# Advisory id -> why it does not apply to Stockroom (none today).
IGNORED: dict[str, str] = {}


def bandit() -> bool:
    command = [str(BIN / "bandit"), "-c", "pyproject.toml", "-r", ".", "-ll", "-q"]
    result = subprocess.run(command, cwd=ROOT, check=False)  # noqa: S603 - our own tools
    print(f"bandit (medium and above): {'clean' if result.returncode == 0 else 'FINDINGS'}")
    return result.returncode == 0


def pip_audit() -> bool:
    command = [str(BIN / "pip-audit"), "--progress-spinner", "off", "-f", "json"]
    for name in REQUIREMENTS:
        command += ["-r", name]
    for advisory in IGNORED:
        command += ["--ignore-vuln", advisory]
    result = subprocess.run(  # noqa: S603 - a fixed command of our own tools
        command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        print(
            "pip-audit: NOT AUDITED - it could not run or reach its advisory service:\n"
            + result.stderr.strip()[-1500:]
        )
        return True
    dependencies = report.get("dependencies", [])
    skipped = [d for d in dependencies if "skip_reason" in d]
    vulnerable = [d for d in dependencies if d.get("vulns")]
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions", [])) or "none yet"
            print(f"  {dependency['name']} {dependency['version']}: {vuln['id']} (fix: {fixes})")
    audited = len(dependencies) - len(skipped)
    if vulnerable:
        print(f"pip-audit: {len(vulnerable)} vulnerable package(s) of {audited} audited")
        return False
    if dependencies and not audited:
        print(
            f"pip-audit: NOT AUDITED - none of the {len(dependencies)} pinned packages could be "
            "looked up (PyPI's advisory service is unreachable from this machine: "
            f"{skipped[0]['skip_reason']}). Run `make audit` where pypi.org is reachable."
        )
        return True
    note = f", {len(skipped)} could not be looked up" if skipped else ""
    print(f"pip-audit: no known vulnerability in {audited} audited package(s){note}")
    return True


def main() -> int:
    ok = bandit()
    ok = pip_audit() and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""``python -m tests.tools``: install the tools the suite needs that pip cannot put in the project's
virtualenv, so the README's one test command runs the whole suite on a fresh machine instead of
skipping what is missing (a fresh machine once skipped 42 tests: Azurite, the SAM CLI).

- the SAM CLI, in its own virtualenv (build/tools/sam): its boto3 and pydantic pins conflict with
  checkov's and the project's;
- Azurite 3.35 (the newest release Node 20 runs), with npm, in build/tools/azurite;
- tesseract-ocr, espeak-ng and sox (the local AI provider's tests), with apt-get when run as root;
  otherwise it says which command to run.

Each is skipped when already there, so running it again costs nothing. What no registry has (the
Pub/Sub emulator comes from Google's own apt repository; terraform from HashiCorp's) stays a
skip in the suite, said as such.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / "build" / "tools"
SAM_VERSION = "1.170.0"
AZURITE_VERSION = "3.35.0"
APT = {"tesseract": "tesseract-ocr", "espeak-ng": "espeak-ng", "sox": "sox"}


def _run(cmd: list[str], **kw: object) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)  # type: ignore[call-overload]


def sam() -> None:
    if (TOOLS / "sam" / "bin" / "sam").exists():
        return
    _run([sys.executable, "-m", "venv", str(TOOLS / "sam")])
    _run([str(TOOLS / "sam" / "bin" / "pip"), "install", "--quiet", f"aws-sam-cli=={SAM_VERSION}"])


def azurite() -> None:
    if (TOOLS / "azurite" / "node_modules" / ".bin" / "azurite").exists():
        return
    if shutil.which("npm") is None:
        raise SystemExit("npm is needed for Azurite (Node 20): apt-get install nodejs npm, then run this again")
    _run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(TOOLS / "azurite"),
          f"azurite@{AZURITE_VERSION}"])


def apt() -> None:
    missing = sorted(pkg for tool, pkg in APT.items() if shutil.which(tool) is None)
    if not missing:
        return
    if os.geteuid() != 0:
        raise SystemExit(f"the local AI provider's tests need: sudo apt-get install {' '.join(missing)}")
    _run(["apt-get", "update", "-qq"])
    _run(["apt-get", "install", "-y", "-qq", *missing], env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
         stdout=subprocess.DEVNULL)


def main() -> None:
    apt()
    sam()
    azurite()
    print("tools ready: SAM CLI, Azurite, tesseract, espeak-ng, sox", flush=True)


if __name__ == "__main__":
    main()

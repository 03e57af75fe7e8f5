"""Where the repository's data, SQL and configuration live."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SQL_DIR = ROOT / "sql"
CONFIG_DIR = ROOT / "config"
REFERENCE_DIR = ROOT / "reference"
EXPECTATIONS_DIR = ROOT / "expectations"
SAMPLE_DIR = ROOT / "data" / "sample"
RULES_FILE = CONFIG_DIR / "rules.toml"

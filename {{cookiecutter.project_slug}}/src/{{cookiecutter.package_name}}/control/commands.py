"""The control commands: the gate and its report, registration, the desired state in deploy/
(promote, roll back, deploy, reconcile) and the lineage of what serves."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ..commands import Commands, arg, logins, print_lines, settings_of

COMMANDS = Commands()
ALIASES = ("staging", "production")  # registry.STAGING, registry.PRODUCTION
GATE_RESULT = arg(
    "--gate-result",
    default="",
    help="gate.json's text, as the job that gated hands it over (default: the file)",
)


@COMMANDS.add(
    "gate",
    "Compare this commit's model with the production champion; exit 1 unless it passes.",
    arg(
        "--override-by",
        default="",
        metavar="LOGIN",
        help="who overrides a performance failure (never a risk failure or an error)",
    ),
    arg(
        "--github",
        action="store_true",
        help="in GitHub Actions: read the pull request; its override label, and who applied "
        "it, overrides",
    ),
)
def gate(args: argparse.Namespace) -> int:
    from . import notices

    settings = settings_of(args)
    result = notices.gate_and_say(settings, args.override_by.strip(), args.github)
    print(f"gate: {result.verdict} (details in {settings.gate.report})")
    for reason in (*result.errors, *result.risk_problems, *result.performance_problems):
        print(f"  - {reason}", file=sys.stderr)
    return 0 if result.passed else 1


@COMMANDS.add(
    "report",
    "Write the gate report as Markdown (PR comment).",
    arg(
        "--base",
        default="origin/main",
        help="git ref to diff params against (default: %(default)s)",
    ),
    arg("--output", type=Path, default=Path("reports/report.md"), help="(default: %(default)s)"),
)
def report(args: argparse.Namespace) -> int:
    from . import notices

    text = notices.write_report(settings_of(args), args.params, args.base, args.output)
    print(text, end="")
    return 0


@COMMANDS.add(
    "comment",
    "Write the report as the pull request's one comment, or update it (GITHUB_TOKEN).",
    arg("--pr", type=int, required=True, help="pull request number"),
    arg(
        "--body",
        type=Path,
        default=Path("reports/report.md"),
        help="Markdown file, unless --text is given (default: %(default)s)",
    ),
    arg("--text", default="", help="the report's Markdown itself"),
)
def comment(args: argparse.Namespace) -> int:
    from . import notices

    body = args.text or args.body.read_text(encoding="utf-8")
    print(notices.comment(args.pr, body))
    return 0


@COMMANDS.add(
    "register",
    "Register the bytes the gate scored, once per commit; no alias moves.",
    arg("--pr", default="", help="pull request number, for lineage"),
    GATE_RESULT,
)
def register(args: argparse.Namespace) -> int:
    from ..github import actions
    from . import registration
    from .gate_result import GateResult

    gate = GateResult.parse(args.gate_result, "--gate-result") if args.gate_result else None
    version, created = registration.register(settings_of(args), pr=args.pr, gate=gate)
    actions.set_output("version", str(version.number))
    state = "registered" if created else "already registered"
    print(f"{state}: {version.name} version {version.number} (commit {version.git_sha})")
    return 0


@COMMANDS.add(
    "promote",
    "staging: move the alias. production (without GitHub): declare the version in "
    "deploy/production.yaml and deploy it.",
    arg("--to", required=True, choices=ALIASES),
    arg(
        "--version",
        type=int,
        default=None,
        help="version (default: staging, the newest commit's; production, staging's)",
    ),
    arg("--approved-by", default="", help="comma-separated logins, written on the version"),
)
def promote(args: argparse.Namespace) -> int:
    from . import deploy, registration

    settings = settings_of(args)
    if args.to == "staging":
        staged, replaced = registration.stage(settings, args.version)
        before = f" (was version {replaced.number})" if replaced else ""
        print(f"staging: {staged.name} version {staged.number}{before}")
        return 0
    return print_lines(deploy.declare_and_deploy(settings, args.version, logins(args.approved_by)))


@COMMANDS.add(
    "rollback",
    "Without GitHub: declare an earlier production version (default: the one git declared "
    "before) as a rollback, and deploy it.",
    arg("--version", type=int, default=None),
    arg("--reason", required=True, help="why: recorded on the version"),
    arg("--by", default="", help="who rolls back (comma-separated)"),
)
def rollback(args: argparse.Namespace) -> int:
    from . import deploy

    settings = settings_of(args)
    return print_lines(
        deploy.declare_and_deploy(settings, args.version, logins(args.by), reason=args.reason)
    )


@COMMANDS.add(
    "deploy",
    "Make the registry serve what deploy/production.yaml declares, after checking it.",
    arg(
        "--github",
        action="store_true",
        help="in GitHub Actions: the change must come from a pull request a code owner "
        "approved on its final head (GitHub's reviews API)",
    ),
    arg("--approved-by", default="", help="without GitHub: who approved (comma-separated)"),
)
def deploy_command(args: argparse.Namespace) -> int:
    from . import deploy

    return print_lines(deploy.deploy(settings_of(args), args.github, logins(args.approved_by)))


@COMMANDS.add(
    "propose-promotion",
    "In GitHub Actions: the ONE pull request that sets production to a version.",
    arg("--version", type=int, required=True),
    arg("--gate-result", default="", help="gate.json's text, for the pull request's report"),
)
def propose_promotion(args: argparse.Namespace) -> int:
    from . import proposals
    from .gate_result import GateResult

    gate = GateResult.parse(args.gate_result, "--gate-result") if args.gate_result else None
    print(proposals.propose_promotion(settings_of(args), args.version, gate))
    return 0


@COMMANDS.add(
    "propose-rollback",
    "In GitHub Actions: the pull request that sets production back, with the reason.",
    arg("--reason", required=True),
    arg("--version", type=int, default=None, help="default: the one git declared before"),
)
def propose_rollback(args: argparse.Namespace) -> int:
    from . import proposals

    print(proposals.propose_rollback(settings_of(args), args.version, args.reason))
    return 0


@COMMANDS.add(
    "emergency-rollback",
    "In GitHub Actions, behind `production`: commit the rollback to deploy/ on the default "
    "branch (DEPLOY_PUSH_TOKEN), then apply it at once.",
    arg("--reason", required=True),
    arg("--by", required=True, help="who asked for it"),
    arg("--version", type=int, default=None, help="default: the one git declared before"),
)
def emergency_rollback(args: argparse.Namespace) -> int:
    from . import deploy

    token = os.environ.get("DEPLOY_PUSH_TOKEN", "")
    return print_lines(
        deploy.emergency_rollback(settings_of(args), args.version, args.reason, args.by, token)
    )


@COMMANDS.add(
    "reconcile",
    "Compare the registry with deploy/; restore or report a difference in ONE issue.",
    arg("--check", action="store_true", help="only compare (a step output `differs`)"),
)
def reconcile_command(args: argparse.Namespace) -> int:
    from ..github import actions
    from . import deploy, reconcile

    settings = settings_of(args)
    if args.check:
        found = deploy.differences(settings)
        actions.set_output("differs", "true" if found else "false")
        print("; ".join(found) or "the registry serves what deploy/ declares")
        return 0
    lines, matches = reconcile.reconcile(settings)
    print_lines(lines)
    return 0 if matches or settings.deploy.reconcile == "report" else 1


@COMMANDS.add(
    "lineage",
    "Which versions used this data, how a version was made, what is live.",
    (
        arg("--data-md5", default=None, help="versions trained on this DVC md5"),
        arg("--version", type=int, default=None, help="one version, in full"),
    ),
    arg("--json", action="store_true", help="machine-readable output"),
)
def lineage(args: argparse.Namespace) -> int:
    from . import lineage_query

    versions = lineage_query.lineage(settings_of(args), args.data_md5, args.version)
    if args.json:
        print(json.dumps(versions, indent=2))
    elif not versions:
        print("no matching version")
    else:
        print("\n\n".join(lineage_query.describe(v) for v in versions))
    return 0

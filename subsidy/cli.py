"""The `subsidy` command (CONTRACT.md, "Command line")."""

from __future__ import annotations

import argparse
import sys

from subsidy.core import db, logs


def main(argv: list[str] | None = None) -> int:
    logs.install()
    parser = argparse.ArgumentParser(prog="subsidy", description="清洁煤补贴管理系统 command line")
    commands = parser.add_subparsers(dest="command", required=True)

    database = commands.add_parser("db", help="database schema")
    database.add_argument("action", choices=["upgrade", "check"])

    commands.add_parser("demo", help="load the demo district (does nothing if it is already there)")

    serve = commands.add_parser("serve", help="serve the web app and the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)

    user = commands.add_parser("user", help="users")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    add = user_commands.add_parser("add", help="create a user")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=["village", "town", "supplier", "drc", "finance", "auditor",
                                                        "admin"])
    scope = add.add_mutually_exclusive_group()
    scope.add_argument("--town")
    scope.add_argument("--village")
    scope.add_argument("--supplier")
    add.add_argument("--password-stdin", action="store_true", required=True,
                     help="read the password from standard input (never from the command line)")
    add.add_argument("--display-name", default="")

    households = commands.add_parser("households", help="the household registry")
    household_commands = households.add_subparsers(dest="households_command", required=True)
    imp = household_commands.add_parser("import", help="import households and registrations from the template")
    imp.add_argument("file")
    imp.add_argument("--dry-run", action="store_true")

    audit_cmd = commands.add_parser("audit", help="the audit log")
    audit_cmd.add_argument("action", choices=["verify"])

    args = parser.parse_args(argv)
    handler = {"db": _db, "demo": _demo, "serve": _serve, "user": _user, "households": _households,
               "audit": _audit}[args.command]
    return handler(args)


def _db(args) -> int:
    if args.action == "upgrade":
        db.upgrade()
        print("database is up to date")
        return 0
    try:
        db.ensure_schema_current(db.get_engine())
    except db.SchemaOutdated as error:
        print(error, file=sys.stderr)
        return 1
    print("database schema is current")
    return 0


def _require_current_schema() -> bool:
    try:
        db.ensure_schema_current(db.get_engine())
    except db.SchemaOutdated as error:
        print(error, file=sys.stderr)
        return False
    return True


def _demo(args) -> int:
    from subsidy import demo

    if not _require_current_schema():
        return 1
    with db.transaction() as session:
        loaded = demo.load(session)
    print("demo district loaded" if loaded else "demo district already present: nothing to do")
    print_demo_logins()
    return 0


def print_demo_logins() -> None:
    from subsidy import demo

    towns = ", ".join(code for code, _, _ in demo.TOWNS)
    villages = ", ".join(code for code, *_ in demo.VILLAGES)
    print("Demo logins (password = user name + '-demo', e.g. admin / admin-demo):")
    print("  admin, drc, finance, auditor, coal-a, coal-b, stove-a")
    print(f"  towns: {towns}")
    print(f"  villages: {villages}")


def _serve(args) -> int:
    import uvicorn

    if not _require_current_schema():
        return 1
    uvicorn.run("web.app:create_app", factory=True, host=args.host, port=args.port, workers=args.workers,
                log_level="info", proxy_headers=True)
    return 0


def _user(args) -> int:
    from sqlalchemy import select

    from subsidy.accounts import users
    from subsidy.core.errors import SubsidyError
    from subsidy.models import Supplier, Town, Village

    if not _require_current_schema():
        return 1
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        with db.transaction() as session:
            scope = {}
            for option, model, key in (("town", Town, "town_id"), ("village", Village, "village_id"),
                                       ("supplier", Supplier, "supplier_id")):
                code = getattr(args, option)
                if code:
                    found = session.execute(select(model.id).where(model.code == code)).scalar_one_or_none()
                    if found is None:
                        print(f"no {option} with code {code}", file=sys.stderr)
                        return 2
                    scope[key] = found
            user = users.create_user(session, None, username=args.name, role=args.role, password=password,
                                     display_name=args.display_name, temporary=False, **scope)
    except SubsidyError as error:
        for field, reason in error.errors.items():
            print(f"{field}: {reason}", file=sys.stderr)
        return 2
    print(f"created user {user.username} ({user.role})")
    return 0


def _households(args) -> int:
    from subsidy.registry import spreadsheet

    if not _require_current_schema():
        return 1
    return spreadsheet.run_cli(args.file, dry_run=args.dry_run)


def _audit(args) -> int:
    from subsidy.core import audit

    with db.transaction() as session:
        report = audit.verify(session)
    if report.ok:
        print(f"audit log intact: {report.checked} entries")
        return 0
    print(f"audit log broken at entry {report.first_broken_id}: {report.reason} ({report.checked} entries intact before it)")
    return 1


if __name__ == "__main__":
    sys.exit(main())

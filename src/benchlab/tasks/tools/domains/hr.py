"""HR analytics: employees, engagement surveys, projects and training (fixture `tools_hr.json`)."""

from __future__ import annotations

from typing import Any

from benchlab.tasks.tools.environment import Environment, Tool, ToolError, params

FIXTURE = "tools_hr.json"

_DEPARTMENT = {"type": "string", "enum": ["engineering", "sales", "product", "support"]}
_LOCATION = {"type": "string", "enum": ["Berlin", "Lisbon", "Madrid", "Remote"]}
_EMPLOYEE_ID = {"type": "string", "pattern": "^E-\\d{3}$"}
_QUARTER = {"type": "string", "pattern": "^\\d{4}-Q[1-4]$", "description": "e.g. 2026-Q1"}
_PUBLIC = ("id", "name", "department", "title", "level", "hire_date", "manager_id", "location")


def _public(employee: dict[str, Any]) -> dict[str, Any]:
    return {name: employee[name] for name in _PUBLIC}


def _search(env: Environment, args: dict[str, Any]) -> Any:
    rows = env.table("employees")
    for name in ("department", "location"):
        if name in args:
            rows = [e for e in rows if e[name] == args[name]]
    if "name_contains" in args:
        rows = [e for e in rows if args["name_contains"].lower() in e["name"].lower()]
    if "title_contains" in args:
        rows = [e for e in rows if args["title_contains"].lower() in e["title"].lower()]
    if "min_level" in args:
        rows = [e for e in rows if e["level"] >= args["min_level"]]
    return {"employees": [_public(e) for e in rows], "count": len(rows)}


def _get_employee(env: Environment, args: dict[str, Any]) -> Any:
    employee = env.find("employees", args["employee_id"])
    result = _public(employee)
    if args.get("include_salary"):
        result["salary"] = employee["salary"]
    return result


def _survey_summary(env: Environment, args: dict[str, Any]) -> Any:
    members = {
        e["id"]
        for e in env.table("employees")
        if "department" not in args or e["department"] == args["department"]
    }
    rows = [
        s for s in env.table("surveys") if s["quarter"] == args["quarter"] and s["employee_id"] in members
    ]
    if not rows:
        raise ToolError(f"no survey responses for {args['quarter']}")
    promoters = sum(1 for s in rows if s["enps_score"] >= 9)
    detractors = sum(1 for s in rows if s["enps_score"] <= 6)
    return {
        "quarter": args["quarter"],
        "department": args.get("department", "all"),
        "responses": len(rows),
        "avg_engagement": round(sum(s["engagement"] for s in rows) / len(rows), 2),
        "avg_wellbeing": round(sum(s["wellbeing"] for s in rows) / len(rows), 2),
        "enps": round(100 * (promoters - detractors) / len(rows)),
    }


def _headcount(env: Environment, args: dict[str, Any]) -> Any:
    rows = env.table("employees")
    for name in ("department", "location"):
        if name in args:
            rows = [e for e in rows if e[name] == args[name]]
    return {"headcount": len(rows), **{k: args[k] for k in ("department", "location") if k in args}}


def _list_projects(env: Environment, args: dict[str, Any]) -> Any:
    rows = env.table("projects")
    for name in ("department", "status"):
        if name in args:
            rows = [p for p in rows if p[name] == args[name]]
    return {"projects": rows, "count": len(rows)}


def _assign(env: Environment, args: dict[str, Any]) -> Any:
    employee = env.find("employees", args["employee_id"])
    project = env.find("projects", args["project_id"])
    if project["status"] == "completed":
        raise ToolError(f"{project['id']} is completed; nobody can join it")
    if employee["id"] in project["members"]:
        raise ToolError(f"{employee['id']} is already on {project['id']}")
    env.update("projects", project, members=[*project["members"], employee["id"]])
    return {"assigned": employee["id"], "project": project["id"], "members": project["members"]}


def _enroll(env: Environment, args: dict[str, Any]) -> Any:
    employee = env.find("employees", args["employee_id"])
    course = env.find("courses", args["course_id"])
    for row in env.table("enrollments"):
        if row["employee_id"] == employee["id"] and row["course_id"] == course["id"]:
            raise ToolError(f"{employee['id']} is already {row['status']} in {course['id']}")
    row = {"employee_id": employee["id"], "course_id": course["id"], "status": "enrolled"}
    env.insert("enrollments", row)
    return {"enrolled": row}


def _training_status(env: Environment, args: dict[str, Any]) -> Any:
    rows = env.table("enrollments")
    for name in ("employee_id", "course_id", "status"):
        if name in args:
            rows = [r for r in rows if r[name].lower() == args[name].lower()]
    return {"enrollments": rows, "count": len(rows)}


def _list_courses(env: Environment, args: dict[str, Any]) -> Any:
    rows = env.table("courses")
    if "max_hours" in args:
        rows = [c for c in rows if c["hours"] <= args["max_hours"]]
    return {"courses": rows}


TOOLS = [
    Tool(
        "search_employees",
        "Find employees by name, department, location, title or minimum level.",
        params(
            {
                "department": _DEPARTMENT,
                "location": _LOCATION,
                "name_contains": {"type": "string", "minLength": 2},
                "title_contains": {"type": "string", "minLength": 2},
                "min_level": {"type": "integer", "minimum": 1, "maximum": 8},
            }
        ),
        _search,
    ),
    Tool(
        "get_employee",
        "One employee's record; salary only when asked for.",
        params({"employee_id": _EMPLOYEE_ID, "include_salary": {"type": "boolean"}}, ["employee_id"]),
        _get_employee,
    ),
    Tool(
        "survey_summary",
        "Engagement survey results for a quarter: averages (1–5) and eNPS (−100 to 100).",
        params({"quarter": _QUARTER, "department": _DEPARTMENT}, ["quarter"]),
        _survey_summary,
    ),
    Tool(
        "headcount",
        "Number of employees, optionally by department and/or location.",
        params({"department": _DEPARTMENT, "location": _LOCATION}),
        _headcount,
    ),
    Tool(
        "list_projects",
        "Projects with members and budget.",
        params(
            {
                "department": _DEPARTMENT,
                "status": {"type": "string", "enum": ["planned", "active", "completed"]},
            }
        ),
        _list_projects,
    ),
    Tool(
        "assign_to_project",
        "Add an employee to a project.",
        params(
            {"employee_id": _EMPLOYEE_ID, "project_id": {"type": "string", "pattern": "^PRJ-\\d+$"}},
            ["employee_id", "project_id"],
        ),
        _assign,
    ),
    Tool(
        "enroll_in_training",
        "Enroll an employee in a course.",
        params(
            {"employee_id": _EMPLOYEE_ID, "course_id": {"type": "string", "pattern": "^C-[A-Z]+\\d$"}},
            ["employee_id", "course_id"],
        ),
        _enroll,
    ),
    Tool(
        "training_status",
        "Training enrollments, by employee, course or status.",
        params(
            {
                "employee_id": _EMPLOYEE_ID,
                "course_id": {"type": "string"},
                "status": {"type": "string", "enum": ["enrolled", "completed"]},
            }
        ),
        _training_status,
    ),
    Tool(
        "list_courses",
        "The training catalogue.",
        params({"max_hours": {"type": "integer", "minimum": 1}}),
        _list_courses,
    ),
]

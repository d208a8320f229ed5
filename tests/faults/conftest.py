from tests.faults.report import ROWS, table


def pytest_terminal_summary(terminalreporter):
    """The fault table, in every run that ran the suite (CI's output included)."""
    if ROWS:
        terminalreporter.write_sep("=", "fault suite")
        terminalreporter.write_line(table(ROWS))

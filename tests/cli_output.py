"""What a user error looks like on the command line, checked the same way everywhere."""


def one_clean_line(result) -> str:
    """The one ``error: ...`` line of a CLI result that exited with code 2, no traceback."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]

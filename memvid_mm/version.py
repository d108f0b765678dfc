# Copyright (c) memvid_mm contributors. All rights reserved.
__version__ = '0.1.0'


def parse_version_info(version_str: str) -> tuple:
    """Parse a version string like ``'0.1.0'`` into ``(0, 1, 0)``.

    Args:
        version_str (str): Dot-separated version.

    Returns:
        tuple[int, ...]: The parts that are all digits, as ints; other
        parts (e.g. ``'0rc1'``) are left out.
    """
    return tuple(int(x) for x in version_str.split('.') if x.isdigit())


version_info = parse_version_info(__version__)

# Copyright (c) memvid_mm contributors. All rights reserved.
"""Class tables: ``(synset id, class name)`` pairs in label order.

The CocoVID category ids are ``1..C`` in table order, ``name`` is the class
name and ``encode_name`` the synset id, as mmtrack's ILSVRC converters write.
"""
import os.path as osp
from collections import abc
from typing import Sequence, Tuple

ClassTable = Tuple[Tuple[str, str], ...]

IMAGENET_VID_CLASS_TABLE: ClassTable = (
    ('n02691156', 'airplane'), ('n02419796', 'antelope'), ('n02131653',
                                                           'bear'),
    ('n02834778', 'bicycle'), ('n01503061', 'bird'), ('n02924116', 'bus'),
    ('n02958343', 'car'), ('n02402425', 'cattle'), ('n02084071', 'dog'),
    ('n02121808', 'domestic_cat'), ('n02503517', 'elephant'), ('n02118333',
                                                               'fox'),
    ('n02510455', 'giant_panda'), ('n02342885', 'hamster'), ('n02374451',
                                                             'horse'),
    ('n02129165', 'lion'), ('n01674464', 'lizard'), ('n02484322', 'monkey'),
    ('n03790512', 'motorcycle'), ('n02324045', 'rabbit'), ('n02509815',
                                                           'red_panda'),
    ('n02411705', 'sheep'), ('n01726692', 'snake'), ('n02355227', 'squirrel'),
    ('n02129604', 'tiger'), ('n04468005', 'train'), ('n01662784', 'turtle'),
    ('n04530566', 'watercraft'), ('n02062744', 'whale'), ('n02391049',
                                                          'zebra'))
"""The 30 ImageNet VID classes, in the official (and mmtrack) order."""

IMAGENET_VID_CLASSES: Tuple[str, ...] = tuple(
    name for _, name in IMAGENET_VID_CLASS_TABLE)
"""The 30 ImageNet VID class names (``metainfo['classes']``)."""

SYNTHVID_CLASS_TABLE: ClassTable = (('n90000001', 'disc'), ('n90000002',
                                                            'box'),
                                    ('n90000003', 'triangle'), ('n90000004',
                                                                'cross'))
"""SynthVID ``(synset id, name)`` pairs, in label order."""

SYNTHVID_CLASSES: Tuple[str,
                        ...] = tuple(name for _, name in SYNTHVID_CLASS_TABLE)
"""SynthVID class names (``metainfo=dict(classes=SYNTHVID_CLASSES)``)."""

CLASS_TABLES = dict(
    imagenet_vid=IMAGENET_VID_CLASS_TABLE, synthvid=SYNTHVID_CLASS_TABLE)
"""Built-in class tables by name."""

OTHER_CATEGORY_NAME = 'other_categeries'
"""Name of the extra DET category of mmtrack's ``imagenet_det_30plus1cls``
file (mmtrack's spelling, kept so that files stay interchangeable)."""


def check_class_table(class_table: Sequence[Sequence[str]]) -> ClassTable:
    """Validate a class table and return it as a tuple of pairs.

    Args:
        class_table (Sequence[Sequence[str]]): ``(synset, name)`` pairs.

    Returns:
        tuple[tuple[str, str], ...]: The validated table.

    Raises:
        TypeError: If an entry is not a pair of strings.
        ValueError: If the table is empty or a synset or name repeats.
    """
    if isinstance(class_table, (str, bytes)):
        raise TypeError('class_table must be a sequence of (synset, name) '
                        f'pairs, but got the string {class_table!r}')
    table = []
    for entry in class_table:
        if (isinstance(entry, (str, bytes))
                or not isinstance(entry, abc.Sequence) or len(entry) != 2
                or not all(isinstance(x, str) and x for x in entry)):
            raise TypeError('class_table entries must be (synset, name) '
                            f'pairs of non-empty strings, but got {entry!r}')
        table.append((entry[0], entry[1]))
    if not table:
        raise ValueError('class_table is empty')
    for column, what in ((0, 'synset'), (1, 'class name')):
        values = [entry[column] for entry in table]
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            raise ValueError(f'class_table repeats the {what}(s) {repeated}')
    return tuple(table)


def class_names(class_table: Sequence[Sequence[str]]) -> Tuple[str, ...]:
    """Return the class names of a class table, in label order.

    Args:
        class_table (Sequence[Sequence[str]]): ``(synset, name)`` pairs,
            checked by :func:`check_class_table`.

    Returns:
        tuple[str, ...]: The names, the second item of each pair.

    Raises:
        TypeError: If an entry is not a pair of strings.
        ValueError: If the table is empty or a synset or name repeats.
    """
    return tuple(name for _, name in check_class_table(class_table))


def load_class_table(spec: str) -> ClassTable:
    """A built-in class table by name, or one read from a text file.

    Args:
        spec (str): A key of :data:`CLASS_TABLES` (``'imagenet_vid'``,
            ``'synthvid'``) or the path of a file with one
            ``<synset> <name>`` pair per line.

    Returns:
        tuple[tuple[str, str], ...]: The validated class table.
    """
    if spec in CLASS_TABLES:
        return CLASS_TABLES[spec]
    if not osp.isfile(spec):
        raise ValueError(f'class table must be one of {sorted(CLASS_TABLES)} '
                         f'or an existing file, got {spec!r}')
    table = []
    with open(spec) as f:
        for line in f:
            tokens = line.split()
            if tokens and len(tokens) != 2:
                raise ValueError(f'{spec}: expected "<synset> <name>" per '
                                 f'line, got {line.strip()!r}')
            if tokens:
                table.append((tokens[0], tokens[1]))
    return check_class_table(table)

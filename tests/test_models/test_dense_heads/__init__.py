# Copyright (c) memvid_mm contributors. All rights reserved.

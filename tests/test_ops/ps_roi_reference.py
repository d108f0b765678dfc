# Copyright (c) memvid_mm contributors. All rights reserved.
"""Slow loop references of the PS RoI ops, written from torchvision's
kernels (``ps_roi_align_kernel.cpp`` / ``ps_roi_pool_kernel.cpp``)."""
import math

import torch


def bilinear(channel, y, x):
    """The kernels' ``bilinear_interpolate`` on one ``(H, W)`` map."""
    height, width = channel.shape
    if y < -1.0 or y > height or x < -1.0 or x > width:
        return 0.0
    y, x = max(y, 0.0), max(x, 0.0)
    y_low, x_low = int(y), int(x)
    if y_low >= height - 1:
        y_low = y_high = height - 1
        y = float(y_low)
    else:
        y_high = y_low + 1
    if x_low >= width - 1:
        x_low = x_high = width - 1
        x = float(x_low)
    else:
        x_high = x_low + 1
    ly, lx = y - y_low, x - x_low
    hy, hx = 1.0 - ly, 1.0 - lx
    return (hy * hx * channel[y_low, x_low].item() +
            hy * lx * channel[y_low, x_high].item() +
            ly * hx * channel[y_high, x_low].item() +
            ly * lx * channel[y_high, x_high].item())


def expected_ps_roi_align(input,
                          rois,
                          kh,
                          kw,
                          spatial_scale=1.0,
                          sampling_ratio=-1):
    """Loop over RoIs, channels, bins and samples (float64 output)."""
    out_channels = input.size(1) // (kh * kw)
    out = torch.zeros(rois.size(0), out_channels, kh, kw, dtype=torch.float64)
    for r, roi in enumerate(rois.tolist()):
        b = int(roi[0])
        start_w, start_h, end_w, end_h = (
            v * spatial_scale - 0.5 for v in roi[1:])
        bin_h = (end_h - start_h) / kh
        bin_w = (end_w - start_w) / kw
        grid_h = sampling_ratio if sampling_ratio > 0 else math.ceil(
            (end_h - start_h) / kh)
        grid_w = sampling_ratio if sampling_ratio > 0 else math.ceil(
            (end_w - start_w) / kw)
        count = grid_h * grid_w
        for c in range(out_channels):
            for i in range(kh):
                for j in range(kw):
                    channel = input[b, (c * kh + i) * kw + j].double()
                    total = 0.0
                    for iy in range(grid_h):
                        y = start_h + i * bin_h + (iy + 0.5) * bin_h / grid_h
                        for ix in range(grid_w):
                            x = (
                                start_w + j * bin_w +
                                (ix + 0.5) * bin_w / grid_w)
                            total += bilinear(channel, y, x)
                    # torchvision divides 0 by 0 (NaN) for an empty grid
                    out[r, c, i, j] = total / count if count > 0 else 0.0
    return out


def c_round(v):
    """C ``round``: halves away from zero."""
    return int(math.floor(abs(v) + 0.5)) * (1 if v >= 0 else -1)


def expected_ps_roi_pool(input, rois, kh, kw, spatial_scale=1.0):
    """Loop over RoIs, channels, bins and cells (float64 output)."""
    out_channels = input.size(1) // (kh * kw)
    height, width = input.shape[-2:]
    out = torch.zeros(rois.size(0), out_channels, kh, kw, dtype=torch.float64)
    for r, roi in enumerate(rois.tolist()):
        b = int(roi[0])
        x1, y1, x2, y2 = (c_round(v * spatial_scale) for v in roi[1:])
        bin_h = max(y2 - y1, 1) / kh
        bin_w = max(x2 - x1, 1) / kw
        for c in range(out_channels):
            for i in range(kh):
                for j in range(kw):
                    h0 = min(max(math.floor(i * bin_h) + y1, 0), height - 1)
                    h1 = min(
                        max(math.ceil((i + 1) * bin_h) + y1, 0), height - 1)
                    w0 = min(max(math.floor(j * bin_w) + x1, 0), width - 1)
                    w1 = min(
                        max(math.ceil((j + 1) * bin_w) + x1, 0), width - 1)
                    if h1 <= h0 or w1 <= w0:
                        continue
                    channel = input[b, (c * kh + i) * kw + j].double()
                    out[r, c, i, j] = channel[h0:h1, w0:w1].mean()
    return out


def random_rois(num_rois, num_images, height, width, spatial_scale, generator):
    """Boxes in image coordinates, many partly outside the map."""
    size = torch.tensor([width, height], dtype=torch.float64) / spatial_scale
    xy = (torch.rand(num_rois, 2, generator=generator, dtype=torch.float64) *
          1.6 - 0.3) * size
    wh = torch.rand(
        num_rois, 2, generator=generator, dtype=torch.float64) * size
    batch = torch.randint(0, num_images, (num_rois, 1), generator=generator)
    return torch.cat([batch.double(), xy, xy + wh], dim=1)

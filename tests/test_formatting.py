"""format_tensor must print exactly what PyTorch's repr prints.

Every expected string below was produced by PyTorch 2.13.0 (``repr`` of a tensor with
the same values, dtype, device and autograd state, with ``torch.`` replaced by ``lazygrad.``) and
pasted here as a literal; PyTorch itself is not needed to run these tests.
"""

import numpy as np
import pytest

from lazygrad.formatting import format_tensor

CASES = [
    pytest.param(
        np.array(10.0),
        "float32",
        [],
        "tensor(10.)",
        id="scalar-int-valued",
    ),
    pytest.param(
        np.array(3.14159),
        "float32",
        [],
        "tensor(3.1416)",
        id="scalar-fraction",
    ),
    pytest.param(
        np.array(1e-5),
        "float32",
        [],
        "tensor(1.0000e-05)",
        id="scalar-small-sci",
    ),
    pytest.param(
        np.array(2.5e9),
        "float32",
        [],
        "tensor(2.5000e+09)",
        id="scalar-large-sci",
    ),
    pytest.param(
        np.array(0.0),
        "float32",
        [],
        "tensor(0.)",
        id="scalar-zero",
    ),
    pytest.param(
        np.array(-0.0),
        "float32",
        [],
        "tensor(-0.)",
        id="scalar-negative-zero",
    ),
    pytest.param(
        np.array(np.nan),
        "float32",
        [],
        "tensor(nan)",
        id="scalar-nan",
    ),
    pytest.param(
        np.array(-np.inf),
        "float32",
        [],
        "tensor(-inf)",
        id="scalar-neg-inf",
    ),
    pytest.param(
        np.array(0.5),
        "float64",
        [],
        "tensor(0.5000, dtype=lazygrad.float64)",
        id="scalar-float64",
    ),
    pytest.param(
        np.array(-7),
        "int64",
        [],
        "tensor(-7)",
        id="scalar-int64",
    ),
    pytest.param(
        np.array(5),
        "int32",
        [],
        "tensor(5, dtype=lazygrad.int32)",
        id="scalar-int32",
    ),
    pytest.param(
        np.array(True),
        "bool",
        [],
        "tensor(True)",
        id="scalar-bool",
    ),
    pytest.param(
        np.array(10.0),
        "float32",
        ["grad_fn=<PowBackward0>"],
        "tensor(10., grad_fn=<PowBackward0>)",
        id="scalar-grad-fn",
    ),
    pytest.param(
        np.array([1.0, 2.0, 3.0, 4.0]),
        "float32",
        [],
        "tensor([1., 2., 3., 4.])",
        id="int-valued-floats",
    ),
    pytest.param(
        np.array([-1.0, 20.0, -300.0]),
        "float32",
        [],
        "tensor([  -1.,   20., -300.])",
        id="negative-int-valued",
    ),
    pytest.param(
        np.array([1.5, 2.25, -3.0]),
        "float32",
        [],
        "tensor([ 1.5000,  2.2500, -3.0000])",
        id="fractions",
    ),
    pytest.param(
        np.array([0.1, 0.2, 0.3]),
        "float32",
        [],
        "tensor([0.1000, 0.2000, 0.3000])",
        id="tenths-float32",
    ),
    pytest.param(
        np.array([0.99995, 9.99996, -0.5]),
        "float64",
        [],
        "tensor([ 1.0000, 10.0000, -0.5000], dtype=lazygrad.float64)",
        id="rounding-to-width",
    ),
    pytest.param(
        np.array([1e-5, 1.0]),
        "float32",
        [],
        "tensor([1.0000e-05, 1.0000e+00])",
        id="min-below-1e-4",
    ),
    pytest.param(
        np.array([1e-4, 1.0]),
        "float32",
        [],
        "tensor([1.0000e-04, 1.0000e+00])",
        id="float32-1e-4-is-below",
    ),
    pytest.param(
        np.array([1e-4, 1.0]),
        "float64",
        [],
        "tensor([1.0000e-04, 1.0000e+00], dtype=lazygrad.float64)",
        id="float64-1e-4-is-not-below",
    ),
    pytest.param(
        np.array([1.0, 1000.0]),
        "float32",
        [],
        "tensor([   1., 1000.])",
        id="ratio-exactly-1000",
    ),
    pytest.param(
        np.array([1.0, 1001.0]),
        "float32",
        [],
        "tensor([1.0000e+00, 1.0010e+03])",
        id="ratio-above-1000-int",
    ),
    pytest.param(
        np.array([0.5, 500.0]),
        "float32",
        [],
        "tensor([  0.5000, 500.0000])",
        id="ratio-exactly-1000-frac",
    ),
    pytest.param(
        np.array([0.5, 500.5]),
        "float32",
        [],
        "tensor([5.0000e-01, 5.0050e+02])",
        id="ratio-above-1000-frac",
    ),
    pytest.param(
        np.array([1e8, 2e5]),
        "float64",
        [],
        "tensor([100000000.,    200000.], dtype=lazygrad.float64)",
        id="max-1e8-not-sci",
    ),
    pytest.param(
        np.array([1.5e8, 2e6]),
        "float64",
        [],
        "tensor([1.5000e+08, 2.0000e+06], dtype=lazygrad.float64)",
        id="max-above-1e8-sci",
    ),
    pytest.param(
        np.array([1e-3, 12.5, 3e4, -7.0]),
        "float32",
        [],
        "tensor([ 1.0000e-03,  1.2500e+01,  3.0000e+04, -7.0000e+00])",
        id="mixed-magnitudes",
    ),
    pytest.param(
        np.array([1e-30, 1e30]),
        "float64",
        [],
        "tensor([1.0000e-30, 1.0000e+30], dtype=lazygrad.float64)",
        id="tiny-and-huge",
    ),
    pytest.param(
        np.array([np.nan, 1.0, np.inf, -np.inf]),
        "float32",
        [],
        "tensor([nan, 1., inf, -inf])",
        id="nan-inf-int-mode",
    ),
    pytest.param(
        np.array([np.nan, 0.5, -np.inf]),
        "float32",
        [],
        "tensor([   nan, 0.5000,   -inf])",
        id="nan-inf-fixed-mode",
    ),
    pytest.param(
        np.array([np.nan, 1e-5, np.inf, 100.0]),
        "float32",
        [],
        "tensor([       nan, 1.0000e-05,        inf, 1.0000e+02])",
        id="nan-inf-sci-mode",
    ),
    pytest.param(
        np.array([np.nan, np.inf, -np.inf]),
        "float32",
        [],
        "tensor([nan, inf, -inf])",
        id="only-nan-inf",
    ),
    pytest.param(
        np.array([-0.0, 0.0, 1.0]),
        "float32",
        [],
        "tensor([-0., 0., 1.])",
        id="negative-zero-int-mode",
    ),
    pytest.param(
        np.array([-0.0, 1.5]),
        "float32",
        [],
        "tensor([-0.0000, 1.5000])",
        id="negative-zero-fixed-mode",
    ),
    pytest.param(
        np.zeros(4),
        "float32",
        [],
        "tensor([0., 0., 0., 0.])",
        id="all-zeros",
    ),
    pytest.param(
        np.array([42.0]),
        "float32",
        [],
        "tensor([42.])",
        id="single-element",
    ),
    pytest.param(
        np.array([1, -20, 300]),
        "int64",
        [],
        "tensor([  1, -20, 300])",
        id="int64-aligned",
    ),
    pytest.param(
        np.array([10**12, -3]),
        "int64",
        [],
        "tensor([1000000000000,            -3])",
        id="int64-large",
    ),
    pytest.param(
        np.array([1, 2, 3]),
        "int32",
        [],
        "tensor([1, 2, 3], dtype=lazygrad.int32)",
        id="int32-suffix",
    ),
    pytest.param(
        np.array([1.0, 2.0]),
        "float64",
        [],
        "tensor([1., 2.], dtype=lazygrad.float64)",
        id="float64-suffix",
    ),
    pytest.param(
        np.array([1.0 / 3.0, 2.0 / 3.0]),
        "float64",
        [],
        "tensor([0.3333, 0.6667], dtype=lazygrad.float64)",
        id="float64-fractions",
    ),
    pytest.param(
        np.array([True, False]),
        "bool",
        [],
        "tensor([ True, False])",
        id="bool-mixed",
    ),
    pytest.param(
        np.array([True, True]),
        "bool",
        [],
        "tensor([True, True])",
        id="bool-all-true",
    ),
    pytest.param(
        np.array([False, False, False]),
        "bool",
        [],
        "tensor([False, False, False])",
        id="bool-all-false",
    ),
    pytest.param(
        np.zeros((0,)),
        "float32",
        [],
        "tensor([])",
        id="empty-float32",
    ),
    pytest.param(
        np.zeros((0,)),
        "int64",
        [],
        "tensor([], dtype=lazygrad.int64)",
        id="empty-int64",
    ),
    pytest.param(
        np.zeros((0,)),
        "int32",
        [],
        "tensor([], dtype=lazygrad.int32)",
        id="empty-int32",
    ),
    pytest.param(
        np.zeros((0,)),
        "float64",
        [],
        "tensor([], dtype=lazygrad.float64)",
        id="empty-float64",
    ),
    pytest.param(
        np.zeros((0,)),
        "bool",
        [],
        "tensor([], dtype=lazygrad.bool)",
        id="empty-bool",
    ),
    pytest.param(
        np.zeros((2, 0, 3)),
        "float32",
        [],
        "tensor([], size=(2, 0, 3))",
        id="empty-2-0-3",
    ),
    pytest.param(
        np.zeros((0, 3)),
        "int64",
        [],
        "tensor([], size=(0, 3), dtype=lazygrad.int64)",
        id="empty-0-3-int64",
    ),
    pytest.param(
        np.zeros((0,)),
        "float32",
        ["requires_grad=True"],
        "tensor([], requires_grad=True)",
        id="empty-requires-grad",
    ),
    pytest.param(
        np.zeros((1, 0)),
        "float64",
        ["device='opencl:0'"],
        "tensor([], device='opencl:0', size=(1, 0), dtype=lazygrad.float64)",
        id="empty-device-float64",
    ),
    pytest.param(
        np.array([[2, 8], [6, 16]]),
        "int64",
        [],
        ("tensor([[ 2,  8],\n        [ 6, 16]])"),
        id="2d-int64",
    ),
    pytest.param(
        np.array([[1.0, 2.0], [3.0, 4.0]]),
        "float32",
        [],
        ("tensor([[1., 2.],\n        [3., 4.]])"),
        id="2d-int-valued-floats",
    ),
    pytest.param(
        np.array([[1.0 / 3.0, 2.0 / 3.0], [1.0, 4.0 / 3.0]]),
        "float32",
        [],
        ("tensor([[0.3333, 0.6667],\n        [1.0000, 1.3333]])"),
        id="2d-fractions",
    ),
    pytest.param(
        (np.arange(12) * 0.37 - 2.0).reshape(3, 4),
        "float32",
        [],
        (
            "tensor([[-2.0000, -1.6300, -1.2600, -0.8900],\n"
            "        [-0.5200, -0.1500,  0.2200,  0.5900],\n"
            "        [ 0.9600,  1.3300,  1.7000,  2.0700]])"
        ),
        id="2d-negative",
    ),
    pytest.param(
        np.array([[1e-6, 2.0], [3e5, -4.5]]),
        "float32",
        [],
        ("tensor([[ 1.0000e-06,  2.0000e+00],\n        [ 3.0000e+05, -4.5000e+00]])"),
        id="2d-sci",
    ),
    pytest.param(
        np.array([[True, False], [False, True]]),
        "bool",
        [],
        ("tensor([[ True, False],\n        [False,  True]])"),
        id="2d-bool",
    ),
    pytest.param(
        np.array([[1, -2], [30, 4]]),
        "int32",
        [],
        ("tensor([[ 1, -2],\n        [30,  4]], dtype=lazygrad.int32)"),
        id="2d-int32",
    ),
    pytest.param(
        np.array([[1.5, 2.0], [3.0, 4.0]]),
        "float64",
        [],
        ("tensor([[1.5000, 2.0000],\n        [3.0000, 4.0000]], dtype=lazygrad.float64)"),
        id="2d-float64",
    ),
    pytest.param(
        np.array([[3.0], [2.0]]),
        "float32",
        [],
        ("tensor([[3.],\n        [2.]])"),
        id="2d-single-column",
    ),
    pytest.param(
        np.arange(24).reshape(2, 3, 4),
        "int64",
        [],
        (
            "tensor([[[ 0,  1,  2,  3],\n"
            "         [ 4,  5,  6,  7],\n"
            "         [ 8,  9, 10, 11]],\n"
            "\n"
            "        [[12, 13, 14, 15],\n"
            "         [16, 17, 18, 19],\n"
            "         [20, 21, 22, 23]]])"
        ),
        id="3d-arange",
    ),
    pytest.param(
        (np.arange(12) * 0.25).reshape(3, 2, 2),
        "float32",
        [],
        (
            "tensor([[[0.0000, 0.2500],\n"
            "         [0.5000, 0.7500]],\n"
            "\n"
            "        [[1.0000, 1.2500],\n"
            "         [1.5000, 1.7500]],\n"
            "\n"
            "        [[2.0000, 2.2500],\n"
            "         [2.5000, 2.7500]]])"
        ),
        id="3d-floats",
    ),
    pytest.param(
        np.arange(16).reshape(2, 2, 2, 2),
        "float32",
        [],
        (
            "tensor([[[[ 0.,  1.],\n"
            "          [ 2.,  3.]],\n"
            "\n"
            "         [[ 4.,  5.],\n"
            "          [ 6.,  7.]]],\n"
            "\n"
            "\n"
            "        [[[ 8.,  9.],\n"
            "          [10., 11.]],\n"
            "\n"
            "         [[12., 13.],\n"
            "          [14., 15.]]]])"
        ),
        id="4d-arange",
    ),
    pytest.param(
        np.ones((1, 1, 1)),
        "float32",
        [],
        "tensor([[[1.]]])",
        id="1-1-1",
    ),
    pytest.param(
        np.arange(30) * 1.5,
        "float32",
        [],
        (
            "tensor([ 0.0000,  1.5000,  3.0000,  4.5000,  6.0000,  7.5000,  9.0000, 10.5000,\n"
            "        12.0000, 13.5000, 15.0000, 16.5000, 18.0000, 19.5000, 21.0000, 22.5000,\n"
            "        24.0000, 25.5000, 27.0000, 28.5000, 30.0000, 31.5000, 33.0000, 34.5000,\n"
            "        36.0000, 37.5000, 39.0000, 40.5000, 42.0000, 43.5000])"
        ),
        id="wrap-1d-floats",
    ),
    pytest.param(
        np.linspace(0.0, 1.0, 25),
        "float64",
        [],
        (
            "tensor([0.0000, 0.0417, 0.0833, 0.1250, 0.1667, 0.2083, 0.2500, 0.2917, 0.3333,\n"
            "        0.3750, 0.4167, 0.4583, 0.5000, 0.5417, 0.5833, 0.6250, 0.6667, 0.7083,\n"
            "        0.7500, 0.7917, 0.8333, 0.8750, 0.9167, 0.9583, 1.0000],\n"
            "       dtype=lazygrad.float64)"
        ),
        id="wrap-1d-linspace",
    ),
    pytest.param(
        np.arange(100),
        "int64",
        [],
        (
            "tensor([ 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15, 16, 17,\n"
            "        18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35,\n"
            "        36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53,\n"
            "        54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71,\n"
            "        72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89,\n"
            "        90, 91, 92, 93, 94, 95, 96, 97, 98, 99])"
        ),
        id="wrap-1d-int64",
    ),
    pytest.param(
        (np.arange(40) * 0.125).reshape(2, 20),
        "float32",
        [],
        (
            "tensor([[0.0000, 0.1250, 0.2500, 0.3750, 0.5000, 0.6250, 0.7500, 0.8750, 1.0000,\n"
            "         1.1250, 1.2500, 1.3750, 1.5000, 1.6250, 1.7500, 1.8750, 2.0000, 2.1250,\n"
            "         2.2500, 2.3750],\n"
            "        [2.5000, 2.6250, 2.7500, 2.8750, 3.0000, 3.1250, 3.2500, 3.3750, 3.5000,\n"
            "         3.6250, 3.7500, 3.8750, 4.0000, 4.1250, 4.2500, 4.3750, 4.5000, 4.6250,\n"
            "         4.7500, 4.8750]])"
        ),
        id="wrap-2d-floats",
    ),
    pytest.param(
        (np.arange(1, 37) * 1e-5).reshape(2, 2, 9),
        "float32",
        [],
        (
            "tensor([[[1.0000e-05, 2.0000e-05, 3.0000e-05, 4.0000e-05, 5.0000e-05,\n"
            "          6.0000e-05, 7.0000e-05, 8.0000e-05, 9.0000e-05],\n"
            "         [1.0000e-04, 1.1000e-04, 1.2000e-04, 1.3000e-04, 1.4000e-04,\n"
            "          1.5000e-04, 1.6000e-04, 1.7000e-04, 1.8000e-04]],\n"
            "\n"
            "        [[1.9000e-04, 2.0000e-04, 2.1000e-04, 2.2000e-04, 2.3000e-04,\n"
            "          2.4000e-04, 2.5000e-04, 2.6000e-04, 2.7000e-04],\n"
            "         [2.8000e-04, 2.9000e-04, 3.0000e-04, 3.1000e-04, 3.2000e-04,\n"
            "          3.3000e-04, 3.4000e-04, 3.5000e-04, 3.6000e-04]]])"
        ),
        id="wrap-3d-sci",
    ),
    pytest.param(
        np.arange(1000),
        "int64",
        [],
        (
            "tensor([  0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,\n"
            "         14,  15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25,  26,  27,\n"
            "         28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,  41,\n"
            "         42,  43,  44,  45,  46,  47,  48,  49,  50,  51,  52,  53,  54,  55,\n"
            "         56,  57,  58,  59,  60,  61,  62,  63,  64,  65,  66,  67,  68,  69,\n"
            "         70,  71,  72,  73,  74,  75,  76,  77,  78,  79,  80,  81,  82,  83,\n"
            "         84,  85,  86,  87,  88,  89,  90,  91,  92,  93,  94,  95,  96,  97,\n"
            "         98,  99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111,\n"
            "        112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125,\n"
            "        126, 127, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139,\n"
            "        140, 141, 142, 143, 144, 145, 146, 147, 148, 149, 150, 151, 152, 153,\n"
            "        154, 155, 156, 157, 158, 159, 160, 161, 162, 163, 164, 165, 166, 167,\n"
            "        168, 169, 170, 171, 172, 173, 174, 175, 176, 177, 178, 179, 180, 181,\n"
            "        182, 183, 184, 185, 186, 187, 188, 189, 190, 191, 192, 193, 194, 195,\n"
            "        196, 197, 198, 199, 200, 201, 202, 203, 204, 205, 206, 207, 208, 209,\n"
            "        210, 211, 212, 213, 214, 215, 216, 217, 218, 219, 220, 221, 222, 223,\n"
            "        224, 225, 226, 227, 228, 229, 230, 231, 232, 233, 234, 235, 236, 237,\n"
            "        238, 239, 240, 241, 242, 243, 244, 245, 246, 247, 248, 249, 250, 251,\n"
            "        252, 253, 254, 255, 256, 257, 258, 259, 260, 261, 262, 263, 264, 265,\n"
            "        266, 267, 268, 269, 270, 271, 272, 273, 274, 275, 276, 277, 278, 279,\n"
            "        280, 281, 282, 283, 284, 285, 286, 287, 288, 289, 290, 291, 292, 293,\n"
            "        294, 295, 296, 297, 298, 299, 300, 301, 302, 303, 304, 305, 306, 307,\n"
            "        308, 309, 310, 311, 312, 313, 314, 315, 316, 317, 318, 319, 320, 321,\n"
            "        322, 323, 324, 325, 326, 327, 328, 329, 330, 331, 332, 333, 334, 335,\n"
            "        336, 337, 338, 339, 340, 341, 342, 343, 344, 345, 346, 347, 348, 349,\n"
            "        350, 351, 352, 353, 354, 355, 356, 357, 358, 359, 360, 361, 362, 363,\n"
            "        364, 365, 366, 367, 368, 369, 370, 371, 372, 373, 374, 375, 376, 377,\n"
            "        378, 379, 380, 381, 382, 383, 384, 385, 386, 387, 388, 389, 390, 391,\n"
            "        392, 393, 394, 395, 396, 397, 398, 399, 400, 401, 402, 403, 404, 405,\n"
            "        406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 419,\n"
            "        420, 421, 422, 423, 424, 425, 426, 427, 428, 429, 430, 431, 432, 433,\n"
            "        434, 435, 436, 437, 438, 439, 440, 441, 442, 443, 444, 445, 446, 447,\n"
            "        448, 449, 450, 451, 452, 453, 454, 455, 456, 457, 458, 459, 460, 461,\n"
            "        462, 463, 464, 465, 466, 467, 468, 469, 470, 471, 472, 473, 474, 475,\n"
            "        476, 477, 478, 479, 480, 481, 482, 483, 484, 485, 486, 487, 488, 489,\n"
            "        490, 491, 492, 493, 494, 495, 496, 497, 498, 499, 500, 501, 502, 503,\n"
            "        504, 505, 506, 507, 508, 509, 510, 511, 512, 513, 514, 515, 516, 517,\n"
            "        518, 519, 520, 521, 522, 523, 524, 525, 526, 527, 528, 529, 530, 531,\n"
            "        532, 533, 534, 535, 536, 537, 538, 539, 540, 541, 542, 543, 544, 545,\n"
            "        546, 547, 548, 549, 550, 551, 552, 553, 554, 555, 556, 557, 558, 559,\n"
            "        560, 561, 562, 563, 564, 565, 566, 567, 568, 569, 570, 571, 572, 573,\n"
            "        574, 575, 576, 577, 578, 579, 580, 581, 582, 583, 584, 585, 586, 587,\n"
            "        588, 589, 590, 591, 592, 593, 594, 595, 596, 597, 598, 599, 600, 601,\n"
            "        602, 603, 604, 605, 606, 607, 608, 609, 610, 611, 612, 613, 614, 615,\n"
            "        616, 617, 618, 619, 620, 621, 622, 623, 624, 625, 626, 627, 628, 629,\n"
            "        630, 631, 632, 633, 634, 635, 636, 637, 638, 639, 640, 641, 642, 643,\n"
            "        644, 645, 646, 647, 648, 649, 650, 651, 652, 653, 654, 655, 656, 657,\n"
            "        658, 659, 660, 661, 662, 663, 664, 665, 666, 667, 668, 669, 670, 671,\n"
            "        672, 673, 674, 675, 676, 677, 678, 679, 680, 681, 682, 683, 684, 685,\n"
            "        686, 687, 688, 689, 690, 691, 692, 693, 694, 695, 696, 697, 698, 699,\n"
            "        700, 701, 702, 703, 704, 705, 706, 707, 708, 709, 710, 711, 712, 713,\n"
            "        714, 715, 716, 717, 718, 719, 720, 721, 722, 723, 724, 725, 726, 727,\n"
            "        728, 729, 730, 731, 732, 733, 734, 735, 736, 737, 738, 739, 740, 741,\n"
            "        742, 743, 744, 745, 746, 747, 748, 749, 750, 751, 752, 753, 754, 755,\n"
            "        756, 757, 758, 759, 760, 761, 762, 763, 764, 765, 766, 767, 768, 769,\n"
            "        770, 771, 772, 773, 774, 775, 776, 777, 778, 779, 780, 781, 782, 783,\n"
            "        784, 785, 786, 787, 788, 789, 790, 791, 792, 793, 794, 795, 796, 797,\n"
            "        798, 799, 800, 801, 802, 803, 804, 805, 806, 807, 808, 809, 810, 811,\n"
            "        812, 813, 814, 815, 816, 817, 818, 819, 820, 821, 822, 823, 824, 825,\n"
            "        826, 827, 828, 829, 830, 831, 832, 833, 834, 835, 836, 837, 838, 839,\n"
            "        840, 841, 842, 843, 844, 845, 846, 847, 848, 849, 850, 851, 852, 853,\n"
            "        854, 855, 856, 857, 858, 859, 860, 861, 862, 863, 864, 865, 866, 867,\n"
            "        868, 869, 870, 871, 872, 873, 874, 875, 876, 877, 878, 879, 880, 881,\n"
            "        882, 883, 884, 885, 886, 887, 888, 889, 890, 891, 892, 893, 894, 895,\n"
            "        896, 897, 898, 899, 900, 901, 902, 903, 904, 905, 906, 907, 908, 909,\n"
            "        910, 911, 912, 913, 914, 915, 916, 917, 918, 919, 920, 921, 922, 923,\n"
            "        924, 925, 926, 927, 928, 929, 930, 931, 932, 933, 934, 935, 936, 937,\n"
            "        938, 939, 940, 941, 942, 943, 944, 945, 946, 947, 948, 949, 950, 951,\n"
            "        952, 953, 954, 955, 956, 957, 958, 959, 960, 961, 962, 963, 964, 965,\n"
            "        966, 967, 968, 969, 970, 971, 972, 973, 974, 975, 976, 977, 978, 979,\n"
            "        980, 981, 982, 983, 984, 985, 986, 987, 988, 989, 990, 991, 992, 993,\n"
            "        994, 995, 996, 997, 998, 999])"
        ),
        id="no-wrap-1000-elements",
    ),
    pytest.param(
        np.arange(2000),
        "float32",
        [],
        (
            "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n"
            "        1.9990e+03])"
        ),
        id="summary-1d-2000",
    ),
    pytest.param(
        np.arange(1001),
        "int64",
        [],
        "tensor([   0,    1,    2,  ...,  998,  999, 1000])",
        id="summary-1d-1001-int",
    ),
    pytest.param(
        np.arange(2500).reshape(50, 50) * 0.5,
        "float32",
        [],
        (
            "tensor([[0.0000e+00, 5.0000e-01, 1.0000e+00,  ..., 2.3500e+01, 2.4000e+01,\n"
            "         2.4500e+01],\n"
            "        [2.5000e+01, 2.5500e+01, 2.6000e+01,  ..., 4.8500e+01, 4.9000e+01,\n"
            "         4.9500e+01],\n"
            "        [5.0000e+01, 5.0500e+01, 5.1000e+01,  ..., 7.3500e+01, 7.4000e+01,\n"
            "         7.4500e+01],\n"
            "        ...,\n"
            "        [1.1750e+03, 1.1755e+03, 1.1760e+03,  ..., 1.1985e+03, 1.1990e+03,\n"
            "         1.1995e+03],\n"
            "        [1.2000e+03, 1.2005e+03, 1.2010e+03,  ..., 1.2235e+03, 1.2240e+03,\n"
            "         1.2245e+03],\n"
            "        [1.2250e+03, 1.2255e+03, 1.2260e+03,  ..., 1.2485e+03, 1.2490e+03,\n"
            "         1.2495e+03]])"
        ),
        id="summary-50x50",
    ),
    pytest.param(
        np.arange(1200).reshape(3, 400),
        "int64",
        [],
        (
            "tensor([[   0,    1,    2,  ...,  397,  398,  399],\n"
            "        [ 400,  401,  402,  ...,  797,  798,  799],\n"
            "        [ 800,  801,  802,  ..., 1197, 1198, 1199]])"
        ),
        id="summary-3x400",
    ),
    pytest.param(
        np.arange(2002).reshape(1001, 2) - 1000,
        "int64",
        [],
        (
            "tensor([[-1000,  -999],\n"
            "        [ -998,  -997],\n"
            "        [ -996,  -995],\n"
            "        ...,\n"
            "        [  996,   997],\n"
            "        [  998,   999],\n"
            "        [ 1000,  1001]])"
        ),
        id="summary-1001x2",
    ),
    pytest.param(
        np.arange(1200).reshape(2, 3, 200) * 0.01,
        "float64",
        [],
        (
            "tensor([[[0.0000e+00, 1.0000e-02, 2.0000e-02,  ..., 1.9700e+00,\n"
            "          1.9800e+00, 1.9900e+00],\n"
            "         [2.0000e+00, 2.0100e+00, 2.0200e+00,  ..., 3.9700e+00,\n"
            "          3.9800e+00, 3.9900e+00],\n"
            "         [4.0000e+00, 4.0100e+00, 4.0200e+00,  ..., 5.9700e+00,\n"
            "          5.9800e+00, 5.9900e+00]],\n"
            "\n"
            "        [[6.0000e+00, 6.0100e+00, 6.0200e+00,  ..., 7.9700e+00,\n"
            "          7.9800e+00, 7.9900e+00],\n"
            "         [8.0000e+00, 8.0100e+00, 8.0200e+00,  ..., 9.9700e+00,\n"
            "          9.9800e+00, 9.9900e+00],\n"
            "         [1.0000e+01, 1.0010e+01, 1.0020e+01,  ..., 1.1970e+01,\n"
            "          1.1980e+01, 1.1990e+01]]], dtype=lazygrad.float64)"
        ),
        id="summary-3d",
    ),
    pytest.param(
        np.ones((10, 10, 4, 3)),
        "float32",
        [],
        (
            "tensor([[[[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]],\n"
            "\n"
            "         [[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]],\n"
            "\n"
            "         [[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]],\n"
            "\n"
            "         ...,\n"
            "\n"
            "         [[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]],\n"
            "\n"
            "         [[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]],\n"
            "\n"
            "         [[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]]],\n"
            "\n"
            "\n"
            "        [[[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]],\n"
            "\n"
            "         [[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]],\n"
            "\n"
            "         [[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]],\n"
            "\n"
            "         ...,\n"
            "\n"
            "         [[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]],\n"
            "\n"
            "         [[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]],\n"
            "\n"
            "         [[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]]],\n"
            "\n"
            "\n"
            "        [[[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]],\n"
            "\n"
            "         [[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]],\n"
            "\n"
            "         [[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]],\n"
            "\n"
            "         ...,\n"
            "\n"
            "         [[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]],\n"
            "\n"
            "         [[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]],\n"
            "\n"
            "         [[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]]],\n"
            "\n"
            "\n"
            "        ...,\n"
            "\n"
            "\n"
            "        [[[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]],\n"
            "\n"
            "         [[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]],\n"
            "\n"
            "         [[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]],\n"
            "\n"
            "         ...,\n"
            "\n"
            "         [[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]],\n"
            "\n"
            "         [[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]],\n"
            "\n"
            "         [[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]]],\n"
            "\n"
            "\n"
            "        [[[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]],\n"
            "\n"
            "         [[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]],\n"
            "\n"
            "         [[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]],\n"
            "\n"
            "         ...,\n"
            "\n"
            "         [[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]],\n"
            "\n"
            "         [[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]],\n"
            "\n"
            "         [[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]]],\n"
            "\n"
            "\n"
            "        [[[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]],\n"
            "\n"
            "         [[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]],\n"
            "\n"
            "         [[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]],\n"
            "\n"
            "         ...,\n"
            "\n"
            "         [[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]],\n"
            "\n"
            "         [[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]],\n"
            "\n"
            "         [[1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.],\n"
            "          [1., 1., 1.]]]])"
        ),
        id="summary-4d",
    ),
    pytest.param(
        np.where(np.arange(2000) == 1000, 1e10, 1.0),
        "float32",
        [],
        "tensor([1., 1., 1.,  ..., 1., 1., 1.])",
        id="summary-hidden-outlier",
    ),
    pytest.param(
        np.arange(2000) % 3 == 0,
        "bool",
        [],
        "tensor([ True, False, False,  ..., False,  True, False])",
        id="summary-bool",
    ),
    pytest.param(
        np.arange(1500).reshape(30, 50) / 7.0,
        "float32",
        ["requires_grad=True"],
        (
            "tensor([[0.0000e+00, 1.4286e-01, 2.8571e-01,  ..., 6.7143e+00, 6.8571e+00,\n"
            "         7.0000e+00],\n"
            "        [7.1429e+00, 7.2857e+00, 7.4286e+00,  ..., 1.3857e+01, 1.4000e+01,\n"
            "         1.4143e+01],\n"
            "        [1.4286e+01, 1.4429e+01, 1.4571e+01,  ..., 2.1000e+01, 2.1143e+01,\n"
            "         2.1286e+01],\n"
            "        ...,\n"
            "        [1.9286e+02, 1.9300e+02, 1.9314e+02,  ..., 1.9957e+02, 1.9971e+02,\n"
            "         1.9986e+02],\n"
            "        [2.0000e+02, 2.0014e+02, 2.0029e+02,  ..., 2.0671e+02, 2.0686e+02,\n"
            "         2.0700e+02],\n"
            "        [2.0714e+02, 2.0729e+02, 2.0743e+02,  ..., 2.1386e+02, 2.1400e+02,\n"
            "         2.1414e+02]], requires_grad=True)"
        ),
        id="summary-requires-grad",
    ),
    pytest.param(
        np.array([1.0, 2.0]),
        "float32",
        ["requires_grad=True"],
        "tensor([1., 2.], requires_grad=True)",
        id="requires-grad-1d",
    ),
    pytest.param(
        np.array([[1.0, 2.0], [3.0, 4.0]]),
        "float32",
        ["requires_grad=True"],
        ("tensor([[1., 2.],\n        [3., 4.]], requires_grad=True)"),
        id="requires-grad-2d",
    ),
    pytest.param(
        np.array([1.0, 4.0]),
        "float32",
        ["grad_fn=<PowBackward0>"],
        "tensor([1., 4.], grad_fn=<PowBackward0>)",
        id="grad-fn-pow",
    ),
    pytest.param(
        np.array([2.0, 8.0]),
        "float32",
        ["grad_fn=<MulBackward0>"],
        "tensor([2., 8.], grad_fn=<MulBackward0>)",
        id="grad-fn-mul",
    ),
    pytest.param(
        np.array([1.0, 2.0]),
        "float32",
        ["device='opencl:0'"],
        "tensor([1., 2.], device='opencl:0')",
        id="device-float32",
    ),
    pytest.param(
        np.array([1, 2]),
        "int64",
        ["device='opencl:0'"],
        "tensor([1, 2], device='opencl:0')",
        id="device-int64",
    ),
    pytest.param(
        np.array([[1, 2], [3, 4]]),
        "int32",
        ["device='opencl:0'"],
        ("tensor([[1, 2],\n        [3, 4]], device='opencl:0', dtype=lazygrad.int32)"),
        id="device-int32",
    ),
    pytest.param(
        np.array([0.5, -1.0]),
        "float32",
        ["device='opencl:0'", "requires_grad=True"],
        "tensor([ 0.5000, -1.0000], device='opencl:0', requires_grad=True)",
        id="device-requires-grad",
    ),
    pytest.param(
        np.array([1.0, 2.0, 3.0]),
        "float64",
        ["device='opencl:0'", "grad_fn=<PowBackward0>"],
        (
            "tensor([1., 2., 3.], device='opencl:0', dtype=lazygrad.float64,\n"
            "       grad_fn=<PowBackward0>)"
        ),
        id="device-float64-grad-fn",
    ),
    pytest.param(
        np.array([1.0, 2.0]),
        "float64",
        ["requires_grad=True"],
        "tensor([1., 2.], dtype=lazygrad.float64, requires_grad=True)",
        id="float64-requires-grad",
    ),
    pytest.param(
        np.arange(12) * 1.25,
        "float32",
        ["requires_grad=True"],
        (
            "tensor([ 0.0000,  1.2500,  2.5000,  3.7500,  5.0000,  6.2500,  7.5000,  8.7500,\n"
            "        10.0000, 11.2500, 12.5000, 13.7500], requires_grad=True)"
        ),
        id="wrap-suffix-1d",
    ),
    pytest.param(
        (np.arange(24) * 1.25).reshape(2, 12),
        "float32",
        ["grad_fn=<PowBackward0>"],
        (
            "tensor([[ 0.0000,  1.2500,  2.5000,  3.7500,  5.0000,  6.2500,  7.5000,  8.7500,\n"
            "         10.0000, 11.2500, 12.5000, 13.7500],\n"
            "        [15.0000, 16.2500, 17.5000, 18.7500, 20.0000, 21.2500, 22.5000, 23.7500,\n"
            "         25.0000, 26.2500, 27.5000, 28.7500]], grad_fn=<PowBackward0>)"
        ),
        id="wrap-suffix-2d-last-line",
    ),
    pytest.param(
        (np.arange(30) * 0.1).reshape(3, 10),
        "float64",
        ["requires_grad=True"],
        (
            "tensor([[0.0000, 0.1000, 0.2000, 0.3000, 0.4000, 0.5000, 0.6000, 0.7000, 0.8000,\n"
            "         0.9000],\n"
            "        [1.0000, 1.1000, 1.2000, 1.3000, 1.4000, 1.5000, 1.6000, 1.7000, 1.8000,\n"
            "         1.9000],\n"
            "        [2.0000, 2.1000, 2.2000, 2.3000, 2.4000, 2.5000, 2.6000, 2.7000, 2.8000,\n"
            "         2.9000]], dtype=lazygrad.float64, requires_grad=True)"
        ),
        id="wrap-dtype-and-grad",
    ),
    pytest.param(
        (np.arange(16) + 0.5).reshape(2, 8),
        "float64",
        ["device='opencl:0'", "grad_fn=<MulBackward0>"],
        (
            "tensor([[ 0.5000,  1.5000,  2.5000,  3.5000,  4.5000,  5.5000,  6.5000,  7.5000],\n"
            "        [ 8.5000,  9.5000, 10.5000, 11.5000, 12.5000, 13.5000, 14.5000, 15.5000]],\n"
            "       device='opencl:0', dtype=lazygrad.float64, grad_fn=<MulBackward0>)"
        ),
        id="wrap-device-dtype-grad",
    ),
    pytest.param(
        np.array(173000.0),
        "float64",
        ["device='opencl:0'", "grad_fn=<MulBackward0>"],
        "tensor(173000., device='opencl:0', dtype=lazygrad.float64, grad_fn=<MulBackward0>)",
        id="wrap-scalar-all-suffixes",
    ),
    pytest.param(
        np.array([-92670693, 29385359, 28646797]),
        "int32",
        ["device='opencl:0'"],
        "tensor([-92670693,  29385359,  28646797], device='opencl:0', dtype=lazygrad.int32)",
        id="wrap-int32-device",
    ),
]


@pytest.mark.parametrize(("arr", "dtype_name", "suffixes", "expected"), CASES)
def test_format_tensor_matches_pytorch(
    arr: np.ndarray, dtype_name: str, suffixes: list[str], expected: str
) -> None:
    assert format_tensor(arr, dtype_name, suffixes) == expected


def test_enough_cases() -> None:
    assert len(CASES) >= 60


def test_input_array_is_not_modified() -> None:
    arr = np.array([[1.5, np.nan], [-0.0, 2.0]])
    before = arr.copy()
    format_tensor(arr, "float64", [])
    np.testing.assert_array_equal(arr, before)


def test_accepts_nested_lists() -> None:
    assert format_tensor([[1, 2], [3, 4]], "int64", []) == "tensor([[1, 2],\n        [3, 4]])"

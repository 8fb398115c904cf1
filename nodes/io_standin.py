"""A small stand-in for the parts of ComfyUI's V3 node API (`comfy_api.latest.io`) that this pack's nodes use.

Unit tests, CI, the CLI and the benches run without ComfyUI; nodes/comfy_io.py hands them this module instead
of the real `io`. It follows the documented V3 contract (COMFYUI.md §1), not ComfyUI's code:

- a node is a subclass of `ComfyNode` with two classmethods, `define_schema() -> Schema` and
  `execute(**inputs) -> NodeOutput`; `validate_inputs` and `fingerprint_inputs` are optional classmethods;
- a `Schema` names the node (`node_id`, `display_name`, `category`, `description`), lists its `inputs` and
  `outputs` in socket order, and flags `is_output_node`; ids must be unique (checked by `validate`), and an
  output node receives the hidden `prompt` and `extra_pnginfo` (added by `finalize`);
- sockets are made from types: `Int.Input("seed", default=0, ...)`, `Custom("MODIT_FACE").Output("face")`;
  `as_dict()` gives the options ComfyUI shows in /object_info (unset options left out; combos list their
  `options` and say `multiselect: False`); `get_io_type()` gives the socket type (combos are "COMBO");
- `NodeOutput(*values, ui=...)` carries the outputs in socket order (`.args`, `.result`) and an optional UI dict.

Only the options our nodes pass are accepted: an unknown keyword fails here as it would in ComfyUI.
"""
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

# ------------------------------------------------------------------------------------------------- sockets


def _set_options(options: dict) -> dict:
    """The options that were given (None means unset, as in /object_info)."""
    return {key: value for key, value in options.items() if value is not None}


class Input:
    """One input socket or widget of a node, in the order the schema lists it."""

    io_type = None  # set on each type's Input class

    def __init__(self, id: str, display_name: str = None, optional: bool = False, tooltip: str = None,
                 advanced: bool = None):
        self.id = id
        self.display_name = display_name
        self.optional = optional
        self.tooltip = tooltip
        self.advanced = advanced

    def get_io_type(self) -> str:
        return self.io_type

    def as_dict(self) -> dict:
        return _set_options({"display_name": self.display_name, "optional": self.optional, "tooltip": self.tooltip,
                             "advanced": self.advanced})


class WidgetInput(Input):
    """An input with a widget: it has a default value."""

    def __init__(self, id: str, display_name: str = None, optional: bool = False, tooltip: str = None,
                 advanced: bool = None, default: Any = None):
        super().__init__(id, display_name, optional, tooltip, advanced)
        self.default = default

    def as_dict(self) -> dict:
        return super().as_dict() | _set_options({"default": self.default})


class Output:
    """One output socket; `id` is also its name on the node unless a display name is given."""

    io_type = None

    def __init__(self, id: str = None, display_name: str = None, tooltip: str = None, is_output_list: bool = False):
        self.id = id
        self.display_name = display_name or id
        self.tooltip = tooltip
        self.is_output_list = is_output_list

    def get_io_type(self) -> str:
        return self.io_type


def _socket_type(io_type: str, input_base=Input, with_output=True):
    """A socket type: a class with `io_type` and nested `Input` (and `Output`) classes bound to it."""
    namespace = {"io_type": io_type, "Input": type("Input", (input_base,), {"io_type": io_type})}
    if with_output:
        namespace["Output"] = type("Output", (Output,), {"io_type": io_type})
    return type(io_type.title().replace("_", ""), (), namespace)


def Custom(io_type: str):  # noqa: N802 (named as in ComfyUI)
    """The socket type of a pack's own values, e.g. Custom("MODIT_FACE")."""
    return _socket_type(io_type)


Image = _socket_type("IMAGE")
Mask = _socket_type("MASK")
Audio = _socket_type("AUDIO")
Video = _socket_type("VIDEO")
AudioEncoderOutput = _socket_type("AUDIO_ENCODER_OUTPUT")


class Int:
    io_type = "INT"

    class Input(WidgetInput):
        io_type = "INT"

        def __init__(self, id: str, display_name: str = None, optional: bool = False, tooltip: str = None,
                     default: int = None, min: int = None, max: int = None, step: int = None,
                     control_after_generate: bool = None, advanced: bool = None):
            super().__init__(id, display_name, optional, tooltip, advanced, default)
            self.min, self.max, self.step = min, max, step
            self.control_after_generate = control_after_generate

        def as_dict(self) -> dict:
            return super().as_dict() | _set_options({"min": self.min, "max": self.max, "step": self.step,
                                                     "control_after_generate": self.control_after_generate})

    class Output(Output):
        io_type = "INT"


class Float:
    io_type = "FLOAT"

    class Input(WidgetInput):
        io_type = "FLOAT"

        def __init__(self, id: str, display_name: str = None, optional: bool = False, tooltip: str = None,
                     default: float = None, min: float = None, max: float = None, step: float = None,
                     advanced: bool = None):
            super().__init__(id, display_name, optional, tooltip, advanced, default)
            self.min, self.max, self.step = min, max, step

        def as_dict(self) -> dict:
            return super().as_dict() | _set_options({"min": self.min, "max": self.max, "step": self.step})

    class Output(Output):
        io_type = "FLOAT"


class String:
    io_type = "STRING"

    class Input(WidgetInput):
        io_type = "STRING"

        def __init__(self, id: str, display_name: str = None, optional: bool = False, tooltip: str = None,
                     default: str = None, multiline: bool = False, advanced: bool = None):
            super().__init__(id, display_name, optional, tooltip, advanced, default)
            self.multiline = multiline

        def as_dict(self) -> dict:
            return super().as_dict() | _set_options({"multiline": self.multiline})

    class Output(Output):
        io_type = "STRING"


class Combo:
    """A dropdown: one of `options` (strings)."""

    io_type = "COMBO"

    class Input(WidgetInput):
        io_type = "COMBO"

        def __init__(self, id: str, options: list = None, display_name: str = None, optional: bool = False,
                     tooltip: str = None, default: str = None, advanced: bool = None):
            super().__init__(id, display_name, optional, tooltip, advanced, default)
            self.options = list(options) if options is not None else None

        def as_dict(self) -> dict:
            return super().as_dict() | _set_options({"multiselect": False, "options": self.options})

    class Output(Output):
        io_type = "COMBO"


class Hidden(str, Enum):
    """Values ComfyUI hands a node without a socket (the output-node ones are all this pack meets)."""

    unique_id = "UNIQUE_ID"
    prompt = "PROMPT"
    extra_pnginfo = "EXTRA_PNGINFO"

# ---------------------------------------------------------------------------------------------- the node


@dataclass
class Schema:
    """What a node is: its id, name, menu category, sockets in order and flags."""

    node_id: str
    display_name: str = None
    category: str = "sd"  # ComfyUI's default too: always set it
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    hidden: list = field(default_factory=list)
    description: str = ""
    search_aliases: list = field(default_factory=list)
    is_input_list: bool = False
    is_output_node: bool = False
    is_experimental: bool = False
    is_deprecated: bool = False
    not_idempotent: bool = False

    def validate(self) -> None:
        """ValueError if two inputs or two outputs share an id."""
        for kind, ids in (("Input", [i.id for i in self.inputs]), ("Output", [o.id for o in self.outputs])):
            repeated = sorted({i for i in ids if ids.count(i) > 1})
            if repeated:
                raise ValueError(f"{self.node_id}: {kind} ids must be unique, but {repeated} are not")

    def finalize(self) -> None:
        """Give an output node its hidden prompt/extra_pnginfo, and unnamed outputs an id."""
        if self.is_output_node:
            for hidden in (Hidden.prompt, Hidden.extra_pnginfo):
                if hidden not in self.hidden:
                    self.hidden.append(hidden)
        for index, output in enumerate(self.outputs):
            if output.id is None:
                output.id = f"_{index}_{output.io_type}_"


class NodeOutput:
    """A node's result: output values in socket order, and optionally what the node shows (`ui`)."""

    def __init__(self, *args: Any, ui: dict = None):
        self.args = args
        self.ui = ui

    @property
    def result(self):
        return self.args or None

    def __getitem__(self, index):
        return self.args[index]


class ComfyNode:
    """Base of every V3 node: stateless classmethods only (ComfyUI runs `execute` on a locked copy of the class)."""

    hidden = None  # ComfyUI fills this in on its copy while the node runs

    @classmethod
    def define_schema(cls) -> Schema:
        raise NotImplementedError(f"{cls.__name__}: define_schema is missing")

    @classmethod
    def execute(cls, **inputs) -> NodeOutput:
        raise NotImplementedError(f"{cls.__name__}: execute is missing")


class ComfyExtension:
    """What `comfy_entrypoint()` returns: ComfyUI awaits `on_load()`, then `get_node_list()`."""

    async def on_load(self) -> None:
        return None

    async def get_node_list(self) -> list:
        raise NotImplementedError

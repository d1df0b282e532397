"""Tensor helpers every model file shares: the forward preamble, pooling, rows leaving a batch, token removal.

Model files import this module and `dact_core.halting`, never each other and never the loader.
"""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict
from dataclasses import dataclass, fields

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.modules import module as torch_module
from transformers import BertModel, PreTrainedConfig
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import create_bidirectional_mask
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.modeling_outputs import ModelOutput
from transformers.models.bert import modeling_bert as _BERT
from transformers.models.bert.modeling_bert import BertEmbeddings, BertPreTrainedModel
from transformers.utils import can_return_tuple

POOLINGS = ("mean", "cls")
NEG = -1e4  # additive attention bias of a removed or padding key


def checked_config(config_cls, **settings):
    """`config_cls(**settings)`, a setting its own checks refuse raised as a ValueError with the check's one line
    (the strict dataclass wraps it in a multi-line error of its own type)."""
    from huggingface_hub.errors import StrictDataclassClassValidationError

    try:
        return config_cls(**settings)
    except StrictDataclassClassValidationError as err:
        raise ValueError(str(err.__cause__ or err)) from err


def check_pooling(pooling: str) -> None:
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")


class LayerByLayerModel(BertPreTrainedModel):
    """Base of the project's models: the standard Hugging Face forward, then the model's own layer loop.

    `forward` takes the Hugging Face arguments a layer-by-layer model can honour (input_ids or
    inputs_embeds, attention_mask, token_type_ids, position_ids, labels, return_dict), refuses the
    others with a clear error (head_mask, output_attentions, output_hidden_states) and passes the
    embeddings to `forward_layers`, which each model defines with its own per-call arguments;
    an argument that no one takes is a TypeError, never dropped.
    """

    accepts_loss_kwargs = False  # the Trainer must not pass num_items_in_batch

    def __init__(self, config, *args, **kwargs):
        super().__init__(config, *args, **kwargs)
        self._unpadded_layer_inputs = {}  # (length, dtype, device, attention) -> `layer_inputs` of one unpadded row

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        head_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        halt_early: bool = False,
        **method_args,
    ) -> ModelOutput:
        """halt_early: the model's adaptive inference (halting, exiting, physical token removal); without
        it every layer runs on every token and a loss is computed when labels are given."""
        refused = {"head_mask": head_mask is not None, "output_attentions": bool(output_attentions),
                   "output_hidden_states": bool(output_hidden_states)}
        for argument, given in refused.items():
            if given:
                raise ValueError(f"{type(self).__name__} does not support {argument} "
                                 "(its layers run one by one on shrinking inputs)")
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError(f"{type(self).__name__}: pass exactly one of input_ids and inputs_embeds")
        if halt_early and labels is not None:
            raise ValueError("the loss needs every layer: call with halt_early=False to train or score")
        reference = input_ids if input_ids is not None else inputs_embeds[..., 0]  # (B, T)
        if attention_mask is None:
            attention_mask = torch.ones(reference.shape, dtype=torch.long, device=reference.device)  # (B, T)
        hidden = embed(self.bert.embeddings, input_ids, token_type_ids, position_ids, inputs_embeds)  # (B, T, H)
        return self.forward_layers(hidden, attention_mask, labels=labels, halt_early=halt_early, **method_args)

    def forward_layers(self, hidden: torch.Tensor, attention_mask: torch.Tensor, labels=None, halt_early=False):
        raise NotImplementedError

    def layer_inputs(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        """What the layers and the pooling take for `attention_mask` (B, T): Hugging Face's attention mask
        (`create_bidirectional_mask`, None where no key is hidden) and the masked-mean weights (B, 1, T).

        A single example without padding needs the same pair at every call of its length, and building it costs
        several tensor operations (tens of microseconds: a visible share of a batch-1 call), so that pair is kept.
        """
        if hidden.shape[0] == 1 and all_true(attention_mask):
            return self.unpadded_layer_inputs(hidden)
        mask = create_bidirectional_mask(config=self.config, inputs_embeds=hidden, attention_mask=attention_mask)
        return mask, pooling_weights(attention_mask, hidden.dtype)

    def unpadded_layer_inputs(self, hidden: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        """`layer_inputs` of one example (1, T, H) without padding, kept per length; for loops that know the row
        has no padding (no check of the mask: a synchronising operation each time)."""
        key = (hidden.shape[1], hidden.dtype, hidden.device, _attention_implementation(self.config))
        if key not in self._unpadded_layer_inputs:
            # built as ordinary tensors even under torch.inference_mode, so that later calls that track
            # gradients (training after an evaluation) may use them
            with torch.inference_mode(False), torch.no_grad():
                ones = torch.ones(hidden.shape[:2], dtype=torch.long, device=hidden.device)  # (1, T)
                shape_only = torch.empty(hidden.shape, dtype=hidden.dtype, device=hidden.device)  # (1, T, H)
                self._unpadded_layer_inputs[key] = (
                    create_bidirectional_mask(config=self.config, inputs_embeds=shape_only, attention_mask=ones),
                    pooling_weights(ones, hidden.dtype),
                )
        return self._unpadded_layer_inputs[key]


class PoolerClassifierModel(LayerByLayerModel):
    """A model that answers like BERT's sequence classifier ([CLS] through the pooler, dropout, a linear
    layer), so that it can start from a fine-tuned full-depth reference (the token-reduction methods)."""

    def __init__(self, config):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=True)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)

    def classify(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.bert.pooler(hidden)))  # (B, C)


def all_true(mask: torch.Tensor) -> bool:
    """`bool(mask.all())`; a CPU mask is read through numpy (a microsecond; torch's reduction and read cost about
    fifteen at batch 1, where every call asks whether its one row has padding). `count_nonzero` rather than numpy's
    own `all`: a third of its cost on a few dozen numbers (NaN counts as true in both)."""
    if _numpy_readable(mask):
        values = mask.numpy()
        return bool(np.count_nonzero(values) == values.size)
    return bool(mask.all())


def any_true(values: torch.Tensor) -> bool:
    """`bool(values.any())`, read like `all_true`."""
    return bool(np.count_nonzero(values.numpy())) if _numpy_readable(values) else bool(values.any())


def _numpy_readable(tensor: torch.Tensor) -> bool:
    """Whether `tensor.numpy()` gives its values: a plain strided CPU tensor of a dtype numpy has, no grad, no
    negative view."""
    return (type(tensor) is torch.Tensor and tensor.device.type == "cpu" and tensor.layout == torch.strided
            and not tensor.requires_grad and not tensor.is_neg() and tensor.dtype in _NUMPY_MASK_DTYPES)


_NUMPY_MASK_DTYPES = (torch.bool, torch.int64, torch.int32, torch.int8, torch.uint8, torch.float32, torch.float64)


def _intercepted(*modules: nn.Module) -> bool:
    """Whether calling these modules would run anything besides their class's forward, which working around them would
    skip: hooks (forward or backward, their own or global ones; the condition of torch's own fast path in
    `Module._call_impl`), a forward set on the instance (accelerate's offload hooks, a patch) or a compiled call
    (`module.compile()`)."""
    return bool(torch_module._global_forward_hooks or torch_module._global_forward_pre_hooks
                or torch_module._global_backward_hooks or torch_module._global_backward_pre_hooks
                or any(m._forward_hooks or m._forward_pre_hooks or m._backward_hooks or m._backward_pre_hooks
                       or "forward" in m.__dict__ or m._compiled_call_impl is not None for m in modules))


def _plain_parts(embeddings: nn.Module, lookups: tuple[nn.Module, ...], norm: nn.Module) -> bool:
    """Whether the embeddings' parts (its three lookups and its LayerNorm) are the plain modules `embed` reads the
    weights of (not replaced, e.g. by an adapter or a quantized embedding, nor renormalised by max_norm) and nothing
    intercepts a call of any of them (`_intercepted`)."""
    return (all(type(part) is nn.Embedding and part.max_norm is None for part in lookups)
            and type(norm) is nn.LayerNorm and not _intercepted(embeddings, *lookups, norm))


def embed(embeddings: nn.Module, input_ids: torch.Tensor | None, token_type_ids: torch.Tensor | None = None,
          position_ids: torch.Tensor | None = None, inputs_embeds: torch.Tensor | None = None) -> torch.Tensor:
    """`embeddings(...)` for a Hugging Face `BertEmbeddings`: in evaluation, from token ids at the default positions, the
    same sums in the same order ((words + token types) + positions, then LayerNorm; tested bit for bit) in about a
    third of its tensor operations (each of its three lookups is ten, and at batch 1 each costs its dispatch).
    Training (dropout), given positions or embeddings, inputs longer than the position table, replaced parts and
    hooks on it or its parts (captum's layer attributions read the word embeddings through one) take its forward.
    Each part is read off the module once (a module attribute costs about a microsecond)."""
    if not (embeddings.training or input_ids is None or position_ids is not None
            or type(embeddings).forward is not BertEmbeddings.forward):
        lookups = (embeddings.word_embeddings, embeddings.token_type_embeddings, embeddings.position_embeddings)
        norm = embeddings.LayerNorm
        if _plain_parts(embeddings, lookups, norm):
            word_table, type_table, position_table = (part.weight for part in lookups)  # (V, H), (types, H), (P, H)
            if input_ids.shape[1] <= position_table.shape[0]:
                return _embed_plain(input_ids, token_type_ids, word_table, type_table, position_table, norm)
    return embeddings(input_ids=input_ids, token_type_ids=token_type_ids, position_ids=position_ids,
                      inputs_embeds=inputs_embeds)


def _embed_plain(input_ids: torch.Tensor, token_type_ids: torch.Tensor | None, word_table: torch.Tensor,
                 type_table: torch.Tensor, position_table: torch.Tensor, norm: nn.LayerNorm) -> torch.Tensor:
    """`embed` once its checks have passed: (words + token types) + positions, then LayerNorm."""
    batch, length = input_ids.shape
    words = word_table.index_select(0, input_ids.reshape(-1))  # (B * T, H)
    # no ids: type 0 everywhere, as Hugging Face does; a tokenizer gives all-zero ids for single texts: adding row 0
    # to every token is the lookup's sum, bit for bit
    if token_type_ids is None or (token_type_ids.device.type == "cpu" and not any_true(token_type_ids)):
        types = type_table[0]  # (H,)
    else:
        types = type_table.index_select(0, token_type_ids.reshape(-1))  # (B * T, H)
    hidden = (words + types).view(batch, length, -1) + position_table[:length]  # (B, T, H)
    return F.layer_norm(hidden, norm.normalized_shape, norm.weight, norm.bias, norm.eps)  # (B, T, H)


_NUMPY_DTYPES = {torch.float64: np.float64, torch.float32: np.float32, torch.int64: np.int64}


def host_tensors(values: list, dtype: torch.dtype, device: torch.device,
                 shapes: list[tuple[int, ...]]) -> list[torch.Tensor]:
    """Tensors of these shapes, filled in order from a flat list of Python numbers (each rounded once to the dtype,
    as `torch.tensor` rounds): how the one-example paths lay out their outputs. On the CPU, where numpy has the
    dtype, each piece is a numpy view handed to torch (about a microsecond); torch's own tensor, split and views
    cost a dispatch each, several microseconds at batch 1 once the layers have run."""
    sizes = [math.prod(shape) for shape in shapes]
    if sum(sizes) != len(values):
        raise ValueError(f"{len(values)} numbers for shapes {shapes} ({sum(sizes)} places)")
    numpy_dtype = _NUMPY_DTYPES.get(dtype)
    if numpy_dtype is None or device.type != "cpu":
        flat = torch.tensor(values, dtype=dtype, device=device)  # (n,)
        return [piece.view(shape) for piece, shape in zip(flat.split(sizes), shapes)]
    flat = np.array(values, dtype=numpy_dtype)  # (n,)
    ends = list(itertools.accumulate(sizes))
    return [torch.from_numpy(flat[end - size:end].reshape(shape)) for size, end, shape in zip(sizes, ends, shapes)]


# ModelOutput class -> its field names (a tuple and a set), or None for a class only its constructor may build
_OUTPUT_FIELDS: dict[type, tuple[tuple[str, ...], frozenset[str]] | None] = {}


def model_output(cls: type[ModelOutput], **values) -> ModelOutput:
    """`cls(**values)` for a Hugging Face `ModelOutput` dataclass: the same object (every field an attribute; as items,
    the fields that are not None, in field order; tested against the constructor) without the constructor's pass
    over the dataclass fields for each field it sets (about thirty microseconds for ten fields, 1% of a batch-1 call
    that stops after two layers). The constructor itself builds the first output of a class (it checks the class and
    registers it with torch), one that gives no field but the first (which it may unpack), and every output of a class
    with its own `__post_init__` or with a field that is required or not an argument."""
    if cls not in _OUTPUT_FIELDS:
        out = cls(**values)
        plain = cls.__post_init__ is ModelOutput.__post_init__ and all(
            field.init and field.default is None for field in fields(cls))
        _OUTPUT_FIELDS[cls] = ((names := tuple(field.name for field in fields(cls))), frozenset(names)) if plain else None
        return out
    known = _OUTPUT_FIELDS[cls]
    if known is None or not any(value is not None for name, value in values.items() if name != known[0][0]):
        return cls(**values)
    names, name_set = known
    if not name_set.issuperset(values):
        raise TypeError(f"{cls.__name__} has no field(s) {sorted(set(values) - name_set)}")
    out = cls.__new__(cls)
    for name in names:
        value = values.get(name)
        object.__setattr__(out, name, value)
        if value is not None:
            OrderedDict.__setitem__(out, name, value)
    return out


def run_layer(layer: nn.Module, hidden: torch.Tensor, mask: torch.Tensor | None, with_attention: bool = False):
    """`layer(hidden, mask)` for a Hugging Face `BertLayer` of an encoder: the same operations in the same order on the
    same kernels (tested bit for bit), in one of two ways.

    * A stock layer in evaluation under the "sdpa" attention, with nothing intercepting its parts' calls
      (`_stock_layer_parts`), runs as one straight sequence of tensor operations on its weights (`_stock_layer`).
      Calling it through its modules costs sixteen of its seventeen module calls (the activation is still called),
      the attention-function lookup and the feed-forward wrapper: tens of microseconds a layer at batch 1 on a 2-core
      CPU, where the layer's own arithmetic takes about a millisecond on a sentence.
    * Otherwise its attention and its feed-forward run as the layer would run them, without the feed-forward wrapper
      (`apply_chunking_to_forward` inspects the function's signature on every call). A layer that chunks its
      feed-forward, is a decoder, is intercepted (`_intercepted`) or checkpoints its gradients in training takes its
      own forward.

    with_attention: also return the attention weights (B, heads, T, T), which the attention gives only under the
    eager implementation."""
    if not with_attention:
        parts = _stock_layer_parts(layer)
        if parts is not None:
            return _stock_layer(hidden, mask, *parts)
        if (layer.chunk_size_feed_forward or layer.is_decoder or _intercepted(layer)
                or (layer.training and getattr(layer, "gradient_checkpointing", False))):
            return layer(hidden, mask)
    attention, weights = layer.attention(hidden, mask)  # (B, T, H), (B, heads, T, T) or None
    output = layer.feed_forward_chunk(attention)  # (B, T, H)
    return (output, weights) if with_attention else output


def _stock_layer_parts(layer: nn.Module) -> tuple | None:
    """What `_stock_layer` reads, when `layer` is a stock `BertLayer` that would run exactly those operations: Hugging
    Face's own classes, in evaluation (every dropout is then the identity), an encoder layer without chunking, the
    "sdpa" attention with Hugging Face's own function registered for it, plain dropouts, and nothing intercepting a
    call of any of the modules the layer would call (hooks, another forward, a compiled call: `_intercepted`). Read
    again on every call: parts may be replaced, hooked or put in training.

    Submodules and weights are read off the modules' own dictionaries, and the attention function off the config's
    stored field (`_attention_implementation`): through the attribute machinery each read costs about a microsecond,
    the config's several, and a layer makes some twenty of them on every call at batch 1."""
    if type(layer) is not _BERT.BertLayer or layer.training or layer.chunk_size_feed_forward or layer.is_decoder:
        return None
    children = layer._modules
    attention, intermediate, output = children.get("attention"), children.get("intermediate"), children.get("output")
    if (type(attention) is not _BERT.BertAttention or type(intermediate) is not _BERT.BertIntermediate
            or type(output) is not _BERT.BertOutput):
        return None
    self_attention, attention_output = attention._modules.get("self"), attention._modules.get("output")
    if type(self_attention) is not _BERT.BertSelfAttention or type(attention_output) is not _BERT.BertSelfOutput:
        return None
    attention_parts, attention_output_parts = self_attention._modules, attention_output._modules
    intermediate_parts, output_parts = intermediate._modules, output._modules
    act = intermediate_parts.get("intermediate_act_fn")  # None when the activation is a function, not a module
    dropouts = (attention_output_parts.get("dropout"), output_parts.get("dropout"))
    linears = (attention_parts.get("query"), attention_parts.get("key"), attention_parts.get("value"),
               attention_output_parts.get("dense"), intermediate_parts.get("dense"), output_parts.get("dense"))
    norms = (attention_output_parts.get("LayerNorm"), output_parts.get("LayerNorm"))
    # the attention's dropout is its own training flag (sdpa's dropout_p); the others are modules
    if (self_attention.training or type(dropouts[0]) is not nn.Dropout or type(dropouts[1]) is not nn.Dropout
            or dropouts[0].training or dropouts[1].training or self_attention.is_causal
            or type(norms[0]) is not nn.LayerNorm or type(norms[1]) is not nn.LayerNorm or not isinstance(act, nn.Module)
            or not all(isinstance(linear, nn.Module) for linear in linears)
            or _attention_implementation(self_attention.config) != "sdpa"
            or ALL_ATTENTION_FUNCTIONS.get("sdpa") is not sdpa_attention_forward
            or _intercepted(layer, attention, self_attention, attention_output, intermediate, output, act, *dropouts,
                            *linears, *norms)):
        return None
    norm_args = tuple(_layer_norm_args(norm) for norm in norms)
    if None in norm_args:
        return None
    return (self_attention.attention_head_size, self_attention.scaling, tuple(_linear_op(linear) for linear in linears),
            norm_args, act)


def _stock_layer(hidden: torch.Tensor, mask: torch.Tensor | None, head_size: int, scaling: float,
                 linears: tuple, norms: tuple, act: nn.Module) -> torch.Tensor:
    """A stock `BertLayer` in evaluation under "sdpa" (`_stock_layer_parts`): BertSelfAttention, sdpa_attention_forward,
    BertSelfOutput, BertIntermediate and BertOutput, operation by operation (the dropouts are the identity).
    linears: each linear's (weight, bias), or the module itself when it is not a plain `nn.Linear` (int8);
    norms: each LayerNorm's `F.layer_norm` arguments after the input."""
    query, key, value, attention_dense, intermediate_dense, output_dense = linears
    attention_norm, output_norm = norms
    batch, length = hidden.shape[:2]
    heads_shape = (batch, length, -1, head_size)
    q = _apply_linear(query, hidden).view(heads_shape).transpose(1, 2)  # (B, heads, T, d)
    k = _apply_linear(key, hidden).view(heads_shape).transpose(1, 2)  # (B, heads, T, d)
    v = _apply_linear(value, hidden).view(heads_shape).transpose(1, 2)  # (B, heads, T, d)
    context = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=0.0, scale=scaling, is_causal=False)
    context = context.transpose(1, 2).contiguous().reshape(batch, length, -1)  # (B, T, H)
    attention = F.layer_norm(_apply_linear(attention_dense, context) + hidden, *attention_norm)  # (B, T, H)
    intermediate = act(_apply_linear(intermediate_dense, attention))  # (B, T, I)
    return F.layer_norm(_apply_linear(output_dense, intermediate) + attention, *output_norm)  # (B, T, H)


def _linear_op(linear: nn.Module) -> tuple[torch.Tensor, torch.Tensor | None] | nn.Module:
    """A plain `nn.Linear`'s (weight, bias), read off its parameters; any other linear (int8), or one whose weight or
    bias is kept elsewhere (a buffer, an attribute), as the module to call."""
    parameters = linear._parameters
    if type(linear) is nn.Linear and "weight" in parameters and "bias" in parameters:
        return parameters["weight"], parameters["bias"]
    return linear


def _apply_linear(linear: tuple | nn.Module, x: torch.Tensor) -> torch.Tensor:
    return F.linear(x, *linear) if type(linear) is tuple else linear(x)


def _layer_norm_args(norm: nn.LayerNorm) -> tuple | None:
    """(normalized_shape, weight, bias, eps) of a LayerNorm, its parameters read off its own dictionary; None when its
    weight or bias is kept elsewhere (a buffer, an attribute: the layer then runs through its modules)."""
    parameters = norm._parameters
    if "weight" not in parameters or "bias" not in parameters:
        return None
    return norm.normalized_shape, parameters["weight"], parameters["bias"], norm.eps


def _attention_implementation(config) -> str | None:
    """`config._attn_implementation`, read from the field the property returns when the config stores it there: the
    property and the config's own attribute lookups cost several microseconds a read, once a layer at batch 1."""
    if getattr(type(config), "_attn_implementation", None) is not _STORED_ATTENTION_PROPERTY:  # a class of its own
        return config._attn_implementation
    stored = object.__getattribute__(config, "__dict__").get("_attn_implementation_internal", _NOT_STORED)
    return config._attn_implementation if stored is _NOT_STORED else stored


_NOT_STORED = object()
# the property that returns that field (a config class that redefines it is read through its own)
_STORED_ATTENTION_PROPERTY = PreTrainedConfig.__dict__.get("_attn_implementation")


def classifies_layer_by_layer(model: nn.Module) -> bool:
    """Whether `classify_layer_by_layer` gives this model's own logits: a `BertForSequenceClassification` encoder (a
    decoder's own forward builds a causal mask) in evaluation mode."""
    return type(model) is _BERT.BertForSequenceClassification and not model.training and not model.config.is_decoder


def classify_layer_by_layer(model: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                            token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
    """The logits (B, C) of a plain `BertForSequenceClassification` in evaluation, its embeddings and layers run the
    way the project's models run theirs (`embed`, `run_layer`), then its pooler and classifier: the numbers of its own
    forward (tested bit for bit). The bench times it beside that forward, so that a speed-up over the plain model can
    be split into what halting gives and what running the layers this way gives."""
    if not classifies_layer_by_layer(model):
        raise ValueError("classify_layer_by_layer runs a BertForSequenceClassification encoder in evaluation mode")
    bert = model.bert
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)  # (B, T)
    hidden = embed(bert.embeddings, input_ids, token_type_ids)  # (B, T, H)
    mask = create_bidirectional_mask(config=model.config, inputs_embeds=hidden, attention_mask=attention_mask)
    for layer in bert.encoder.layer:
        hidden = run_layer(layer, hidden, mask)  # (B, T, H)
    return model.classifier(model.dropout(bert.pooler(hidden)))  # (B, C)


def pooling_weights(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Masked-mean weights (B, 1, T): 1 / length on real tokens, 0 on padding. Computed once per mask."""
    mask = attention_mask.to(dtype)  # (B, T)
    return (mask / mask.sum(dim=1, keepdim=True).clamp(min=1.0)).unsqueeze(1)  # (B, 1, T)


def pool(hidden: torch.Tensor, weights: torch.Tensor, pooling: str) -> torch.Tensor:
    """hidden (B, T, H) -> (B, H): [CLS], or the masked mean as one batched matmul with `pooling_weights`."""
    if pooling == "cls":
        return hidden[:, 0]
    return torch.bmm(weights, hidden).squeeze(1)  # (B, H)


def keep_rows(keep: torch.Tensor, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Rows still running leave the others behind: index every per-row tensor by `keep` (R,)."""
    return tuple(t[keep] for t in tensors)


def trim_padding(hidden: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop padding columns that no running row needs (inputs are right-padded)."""
    length = int(attention_mask.sum(dim=1).max())
    if length < attention_mask.shape[1] and not attention_mask[:, length:].any():
        return hidden[:, :length], attention_mask[:, :length]
    return hidden, attention_mask


@dataclass
class TokenReductionOutput(ModelOutput):
    """Output of the token-reduction models (AdapLeR, token gates). B = batch, N = layers, T = tokens.

    logits (B, C); prediction (B,): argmax of the logits, the one source of the predicted class;
    tokens_per_layer (B, N): tokens each layer ran on (soft counts in training); exit_layer (B,) is
    always N; kept_tokens (B, N, T), with `output_kept_tokens=True` at inference: input token t is
    among layer n's inputs.
    """

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    prediction: torch.Tensor | None = None
    tokens_per_layer: torch.Tensor | None = None
    exit_layer: torch.Tensor | None = None
    kept_tokens: torch.Tensor | None = None


def gather_tokens(hidden: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Physically keep the tokens marked in `keep` (B, T), in order, right-padded to the longest row.

    hidden (B, T, H) -> (B, T', H), the new attention mask (B, T') and `order` (B, T'): the position
    in the old sequence of each new position.
    """
    if keep.shape[0] == 1:  # one row needs no sort and no padding, and a batch-1 call pays per tensor operation
        order = keep.nonzero()[:, 1].unsqueeze(0)  # (1, T')
        return hidden[:, order[0]], torch.ones_like(order), order  # (1, T', H), (1, T'), (1, T')
    counts = keep.sum(dim=1)  # (B,)
    length = int(counts.max())
    # stable order: kept tokens first, in their original order
    order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)[:, :length]  # (B, T')
    gathered = torch.gather(hidden, 1, order.unsqueeze(-1).expand(-1, -1, hidden.shape[-1]))  # (B, T', H)
    new_mask = (torch.arange(length, device=hidden.device)[None, :] < counts[:, None]).long()  # (B, T')
    return gathered, new_mask, order


class TokenSurvival:
    """Follows the input positions through repeated `gather_tokens` calls, for the inspector.

    kept (B, N, T): input token t is among layer n's inputs.
    """

    def __init__(self, attention_mask: torch.Tensor, num_layers: int):
        batch, length = attention_mask.shape
        self.positions = torch.arange(length, device=attention_mask.device).expand(batch, -1)  # (B, T')
        self.kept = torch.zeros(batch, num_layers, length, dtype=torch.bool, device=attention_mask.device)

    def record(self, layer: int, order: torch.Tensor | None, attention_mask: torch.Tensor) -> None:
        """Layer `layer` (0-based) runs on the current tokens, after an optional gather with `order`."""
        if order is not None:
            self.positions = torch.gather(self.positions, 1, order)  # (B, T')
        rows = torch.arange(self.positions.shape[0], device=self.positions.device)[:, None].expand_as(self.positions)
        real = attention_mask.bool()  # (B, T')
        self.kept[rows[real], layer, self.positions[real]] = True

"""The math of the Asymmetric Loss: elementwise terms with closed-form derivatives, combined by
the target, eager or compiled, behind one autograd Function (:class:`AsymmetricLossFunction`).

For ``p`` the probability of an element (``sigmoid(x)`` of a logit ``x``, or the input itself
with ``activated``), ``q = 1 - p`` and ``p_m = max(p - clip, 0)`` (ASL paper, eq. 6-7; the
quality form after GFL's QualityFocalLoss)::

    positive (binary target 1):   L+ = -q^gamma_pos * log(p)
    positive (quality score s):   Lq = BCE(p, s) * |s - p|^gamma_pos
    negative:                     L- = -p_m^gamma_neg * log(1 - p_m)

``alpha`` (when given) multiplies positive terms, ``1 - alpha`` negative ones. With
``reject_above = t`` (off when None), a negative element with ``p > t`` costs
``mirror_weight * a_neg * L+`` instead of ``L-`` (0 for ``mirror_weight == 0``).

One job per module, read in this order:

- ``hyper_parameters``: :class:`AslHyperParameters` and :func:`compute_dtype`;
- ``loss_term``: ``LossTerm`` (a term and its derivative) and ``TermSet``;
- ``elementwise_ops``: the building blocks, ``EagerOps`` (ATen kernels) or ``CompiledOps``
  (traced by ``torch.compile`` into one fused kernel);
- ``logit_terms`` / ``probability_terms``: ``L+``, ``Lq``, ``L-`` and their derivatives, as
  ``LOGIT_TERMS`` / ``PROBABILITY_TERMS``;
- ``negative_rejection``: the ``reject_above`` / ``mirror_weight`` rule;
- ``target_combination``: ``asl_loss_and_grad``, the terms combined by the target, weighted,
  elementwise or summed;
- ``compiled_loss``: that function of logits under ``torch.compile``;
- ``autograd_function``: :class:`AsymmetricLossFunction`, which saves the derivative computed in
  the forward pass; its backward pass is one multiply.

Functions return new tensors, except on the dense (N, C) negative term and its combination with
the target, where a fresh buffer per step costs more on CPU (page faults) than the arithmetic in
it: there a temporary is updated in place, and the functions that do so end in ``_`` and say what
they overwrite. :func:`~asl_det.models.losses.py_asymmetric_loss` is the plain-autograd reference
all of this is tested against.

The default path (logits, integer labels, ``clip > 0``, eager): ``AsymmetricLossFunction`` ->
``asl_loss_and_grad`` -> ``logit_negative_term`` over (N, C) and ``logit_positive_term`` at the N
labelled classes -> ``_labelled_class_combination``.
"""
from .autograd_function import AsymmetricLossFunction
from .hyper_parameters import AslHyperParameters, compute_dtype

__all__ = ['AslHyperParameters', 'AsymmetricLossFunction', 'compute_dtype']

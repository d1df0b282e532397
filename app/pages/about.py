"""The method on one page, good enough for a slide."""

import streamlit as st

st.title("DACT-BERT in one page")
st.markdown(
    "**Differentiable Adaptive Computation Time for BERT** (Eyzaguirre, del Río, Araujo, Soto; "
    "NLP Power! workshop, ACL 2022). Easy inputs should not pay for every layer: after each "
    "Transformer layer a small module proposes an answer and says how much the remaining layers "
    "may still matter. Inference stops as soon as the remaining layers provably cannot change the "
    "predicted class."
)
left, right = st.columns([3, 2])
with left:
    st.markdown("**After layer n** (a pooled vector $x_n$ of the layer's token states):")
    st.latex(r"z_n = \mathrm{ReLU}(W_n x_n + b_n),\quad y_n = \mathrm{softmax}(W^y_n z_n),\quad h_n = \sigma(w^h_n z_n)")
    st.markdown("**Accumulated answer** (differentiable; $a_0 = 0$, $p_0 = 1$):")
    st.latex(r"a_n = y_n\, p_{n-1} + a_{n-1}\,(1 - p_{n-1}), \qquad p_n = h_n\, p_{n-1} = \prod_{k\le n} h_k")
    st.markdown("**Training** (all N layers run; $\\tau$ trades accuracy for compute):")
    st.latex(r"\mathcal{L} = -\log a_N[\text{label}] + \tau \sum_{n=1}^{N} p_n")
    st.markdown("**Halting** after layer n with $d = N - n$ layers left, top class $c^*$, runner-up $c_{ru}$:")
    st.latex(r"\text{tight:}\quad (1 - p_n)^d\,\big(a_n[c^*] + 1 - a_n[c_{ru}]\big) > 1")
    st.latex(r"\text{paper:}\quad a_n[c^*]\,(1 - p_n)^d > a_n[c_{ru}] + p_n\, d")
    st.markdown(
        "Either bound guarantees $\\arg\\max a_N = c^*$: the prediction at the halting layer equals the "
        "full-depth prediction. The tight bound is reached by the worst case ($h = 1$, all later mass on "
        "the runner-up), so it halts at the same layer or earlier. Halted rows leave the batch, so the "
        "saving is real in batches too."
    )
with right:
    st.graphviz_chart(
        """
        digraph {
          rankdir=TB; node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontsize=12];
          emb [label="embeddings"]; l1 [label="layer 1"]; l2 [label="layer 2"]; ln [label="layer n"];
          d1 [label="DACT 1: y1, h1", fillcolor="#fdf1e6"]; d2 [label="DACT 2: y2, h2", fillcolor="#fdf1e6"];
          dn [label="DACT n: yn, hn", fillcolor="#fdf1e6"];
          a1 [label="a1, p1", shape=ellipse, fillcolor="#e9f6ea"]; a2 [label="a2, p2", shape=ellipse, fillcolor="#e9f6ea"];
          an [label="an, pn", shape=ellipse, fillcolor="#e9f6ea"];
          stop [label="bound holds?\\nstop: answer argmax an", shape=diamond, fillcolor="#fbeaea"];
          emb -> l1 -> l2 -> ln [style=bold];
          l1 -> d1 -> a1; l2 -> d2 -> a2; ln -> dn -> an;
          a1 -> a2 -> an [label=" recurrence"];
          an -> stop;
        }
        """
    )
st.caption("The Inspect page shows every quantity of these equations for your own sentence.")

"""The method on one slide (fits 1280x720): the equations on the left, the computation left to right below."""

import streamlit as st

st.markdown("<style>.block-container{padding-top:3rem;padding-bottom:0} .katex{font-size:1.05em}</style>",
            unsafe_allow_html=True)
st.markdown("### DACT-BERT: stop when the remaining layers cannot change the answer")
st.caption("Differentiable Adaptive Computation Time for BERT (Eyzaguirre, del Río, Araujo, Soto; NLP Power! "
           "workshop, ACL 2022). After every Transformer layer a small module proposes an answer and says how much "
           "the remaining layers may still matter.")
left, right = st.columns(2)
with left:
    st.markdown("**After layer n** (pooled token states $x_n$) and the **accumulated answer** ($a_0 = 0$, $p_0 = 1$):")
    st.latex(r"y_n = \mathrm{softmax}(W^y_n z_n),\;\; h_n = \sigma(w^h_n z_n),\;\; z_n = \mathrm{ReLU}(W_n x_n)")
    st.latex(r"a_n = y_n\, p_{n-1} + a_{n-1}(1 - p_{n-1}),\qquad p_n = h_1 \cdots h_n")
    st.markdown("**Training** runs all N layers; $\\tau$ trades accuracy for compute:")
    st.latex(r"\mathcal{L} = -\log a_N[\text{label}] + \tau \textstyle\sum_{n} p_n")
with right:
    st.markdown("**Halting** after layer n, $d = N - n$ layers left, top class $c^*$, runner-up $c_{ru}$:")
    st.latex(r"\text{tight:}\;\; (1 - p_n)^d\,\big(a_n[c^*] + 1 - a_n[c_{ru}]\big) > 1")
    st.latex(r"\text{paper:}\;\; a_n[c^*]\,(1 - p_n)^d > a_n[c_{ru}] + p_n\, d")
    st.markdown("Either bound guarantees $\\arg\\max a_N = c^*$: the halted prediction **equals the full-depth "
                "prediction**. The tight bound halts at the same layer or earlier. Halted rows leave the batch.")
st.graphviz_chart(
    """
    digraph {
      rankdir=LR; nodesep=0.18; ranksep=0.4; size="13,2.6";
      node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontsize=14, height=0.38];
      edge [arrowsize=0.7];
      emb [label="embeddings"];
      l1 [label="layer 1"]; l2 [label="layer 2"]; l3 [label="layer 3"]; dots [label="...", shape=plaintext, style=""];
      a1 [label="DACT 1: y1, h1 -> a1, p1", fillcolor="#fdf1e6"]; a2 [label="DACT 2: y2, h2 -> a2, p2", fillcolor="#fdf1e6"];
      a3 [label="DACT 3: y3, h3 -> a3, p3", fillcolor="#fdf1e6"];
      t1 [label="bound holds?", shape=diamond, fillcolor="#fbeaea", fontsize=12];
      t2 [label="bound holds?", shape=diamond, fillcolor="#fbeaea", fontsize=12];
      t3 [label="bound holds?", shape=diamond, fillcolor="#fbeaea", fontsize=12];
      stop [label="stop: answer argmax a_n", fillcolor="#fbeaea"];
      {rank=same; l1; a1; t1} {rank=same; l2; a2; t2} {rank=same; l3; a3; t3}
      emb -> l1 -> l2 -> l3 -> dots [style=bold];
      l1 -> a1 -> t1; l2 -> a2 -> t2; l3 -> a3 -> t3;
      a1 -> a2 -> a3 [color="#2ca02c", penwidth=1.5];
      t1 -> l2 [label="no", fontsize=11, style=dashed]; t2 -> l3 [label="no", fontsize=11, style=dashed];
      t3 -> stop [label="yes", fontsize=11];
    }
    """,
    width="stretch",
)
st.caption("The Inspect page shows every quantity of these equations for your own sentence; Present steps through "
           "them on one screen.")

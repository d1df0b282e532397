"""DACT-BERT Inspector: `dact app` (or `streamlit run app/main.py`)."""

import streamlit as st

st.set_page_config(page_title="DACT-BERT Inspector", page_icon=":material/layers:", layout="wide")

pages = [
    st.Page("pages/inspect.py", title="Inspect", icon=":material/search:", default=True),
    st.Page("pages/dataset.py", title="Data set", icon=":material/table_chart:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/show_chart:"),
    st.Page("pages/about.py", title="About", icon=":material/school:"),
]
st.navigation(pages).run()

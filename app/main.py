"""DACT-BERT Inspector: `dact app` (or `streamlit run app/main.py`).

The pages live in app/views/, not app/pages/: Streamlit would treat a pages/ folder as its
file-based navigation and serve a page's URL without running this script first."""

import streamlit as st

st.set_page_config(page_title="DACT-BERT Inspector", page_icon=":material/layers:", layout="wide")

pages = [
    st.Page("views/inspect.py", title="Inspect", icon=":material/search:", default=True),
    st.Page("views/present.py", title="Present", icon=":material/slideshow:", url_path="present"),
    st.Page("views/dataset.py", title="Data set", icon=":material/table_chart:"),
    st.Page("views/compare.py", title="Compare", icon=":material/show_chart:"),
    st.Page("views/about.py", title="About", icon=":material/school:"),
]
st.navigation(pages, position="top").run()  # a top bar leaves the whole width to the content

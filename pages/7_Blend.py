"""Blend: new items that sound like two corpora at once, as a mixture and as a product."""

import streamlit as st

from tnaas.app import dashboard
from tnaas.app.display import percent

selection = dashboard.page("Blend", "🧪")
st.title("🧪 Blend")
st.caption(
    "Two corpora, one Markov chain each (no smoothing). **Mixture**: both chains' counts combined, "
    "weight w on A (markovify's `combine`). **Product**: p(item) ∝ p_A(item)^w · p_B(item)^(1−w), "
    "drawn exactly within the maximum length."
)

labels = dashboard.corpus_labels()
# Token kinds of the bundled corpora from the manifest: loading all of them took ~0.2 s of the first render.
bundled_kinds = {entry["name"]: entry["tokens"] for entry in dashboard.manifest()}
kinds = {key: bundled_kinds.get(key) or dashboard.corpus_by_key(key).token_kind for key in labels}
control = dashboard.control
left, right = st.columns(2)
a = control(left.selectbox, "Corpus A", "blend/a", "pokemon", options=list(labels), format_func=labels.get)
same_kind = [key for key in labels if kinds[key] == kinds[a]]
if st.session_state.get("blend/b") not in same_kind:  # B must have A's token kind
    st.session_state["blend/b"] = next((k for k in same_kind if k != a), a)
b = control(
    right.selectbox,
    "Corpus B",
    "blend/b",
    same_kind[0],
    options=same_kind,
    format_func=labels.get,
    help=f"Corpora of {kinds[a]}, like A",
)
one, two, three, four, five = st.columns(5)
weight = control(
    one.slider,
    "Weight w on A",
    "blend/weight",
    0.5,
    min_value=0.0,
    max_value=1.0,
    step=0.05,
    help="1: A only; 0: B only",
)
state = control(two.slider, "State size", "blend/state", 3, min_value=1, max_value=6, help="Tokens of context")
n = control(three.slider, "How many", "blend/n", 10, min_value=1, max_value=50)
seed = control(
    four.number_input, "Seed", "blend/seed", 0, min_value=0, max_value=2**31 - 1, help="Same seed, same items"
)
max_length = control(
    five.slider,
    "Maximum length (product)",
    "blend/max_length",
    20,
    min_value=1,
    max_value=40,
    help="The product is exact over items up to this many tokens",
)
values = {"a": a, "b": b, "weight": float(weight), "state": int(state), "n": int(n), "seed": int(seed),
          "max_length": int(max_length)}  # fmt: skip
link = st.container()

with dashboard.user_errors():
    columns = dict(zip(("mixture", "product"), st.columns(2)))
    for mode, where in columns.items():
        answer = dashboard.blended(a, b, weight, state, mode, n, seed, max_length)
        where.subheader("Mixture" if mode == "mixture" else "Product")
        if mode == "product":
            where.metric(
                "p within the bound",
                percent(answer["probability_within_bound"]),
                help="The product's normaliser: the mass p_A^w p_B^(1-w) puts on items within the maximum length",
            )
            where.caption(
                f"Left out by the bound (items longer than {answer['max_length']} tokens): "
                f"at most {answer['truncated_bound']:.2g} of that mass."
            )
        if answer["shortfall"]:
            where.warning(answer["shortfall"], icon="🔎")
        where.markdown("\n".join(f"- {item}" for item in answer["items"]))
        where.download_button(
            f"Download {mode} (JSON)", dashboard.answer_json(answer), f"blend-{mode}.json", "application/json"
        )
    dashboard.share_link(selection, "Blend", values, where=link)

dashboard.warm_up()  # after the page is drawn: prepare what the other pages need

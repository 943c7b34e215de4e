"""Quiz: "Pokémon or tech?" — guess where a real or made-up name comes from, against the model."""

import streamlit as st

from tnaas.app import dashboard, score_charts
from tnaas.app.dashboard import QUIZ_CORPORA, SOUNDS_LIKE_CORPORA
from tnaas.app.display import escape_markdown, percent

selection = dashboard.page("Quiz", "❓")
TITLES = {entry["name"]: entry["title"] for entry in dashboard.manifest()}
BUTTONS = {"pokemon": ("Pokémon", "🐉"), "tech": ("tech", "💻")}  # name -> (button label, icon)
label = {name: BUTTONS.get(name, (TITLES[name], "❓"))[0] for name in QUIZ_CORPORA}

st.title("❓ Pokémon or tech?")
st.caption(
    "A Pokémon name or a software package name, real or made up by a Markov chain (k=3, Kneser-Ney) trained on "
    "one of them. Names are in lower case, so case gives nothing away. The sidebar's choices are not used here."
)
score = dashboard.scoreboard()
question, probabilities = dashboard.quiz_question(score.seed)
model_guess = max(probabilities, key=probabilities.get)

you, model, asked = st.columns(3)
you.metric("Your score", f"{score.right} / {score.answered}", border=True)
model.metric("The model's score", f"{score.model_right} / {score.answered}", border=True)
asked.metric("Question", f"#{score.seed + 1}", border=True)
st.markdown(f"## {escape_markdown(question.name)}")
for column, name in zip(st.columns(len(QUIZ_CORPORA) + 2)[: len(QUIZ_CORPORA)], QUIZ_CORPORA):
    text, icon = BUTTONS.get(name, (TITLES[name], "❓"))
    column.button(
        text, icon=icon, key=f"quiz/guess/{name}", on_click=dashboard.answer_quiz, args=(name,),
        disabled=score.guess is not None, width="stretch",
    )  # fmt: skip

if score.guess is not None:
    kind = "made up by the model trained on" if question.generated else "a real name from"
    truth = f"**{escape_markdown(question.name)}** is {kind} **{TITLES[question.source]}**."
    if score.guess == question.source:
        st.success(f"Right! {truth}", icon="✅")
    else:
        st.warning(f"Not this time: {truth}", icon="❌")
    verdict = "right" if model_guess == question.source else "wrong"
    st.markdown(
        f"The model says **{label[model_guess]}** with probability **{percent(probabilities[model_guess])}** "
        f"({verdict}): Bayes over one character model per corpus, p(corpus | name) ∝ p(name | corpus), equal priors."
    )
    dashboard.show_chart(score_charts.sounds_like_chart(probabilities, TITLES, question.name))
    st.button("Next question", type="primary", icon="➡️", on_click=dashboard.next_question)

st.divider()
st.header("What does a name sound like?")
typed = dashboard.control(
    st.text_input,
    "Any name",
    "quiz/name",
    "",
    max_chars=dashboard.MAX_NAME_CHARS,
    placeholder="e.g. pikachu, numpy, billy, amor",
)
link = {"question": score.seed + 1} | ({"name": typed} if typed else {})
dashboard.share_link(selection, "Quiz", link)
if not typed:
    st.caption(f"Type a name to see which of {len(SOUNDS_LIKE_CORPORA)} bundled corpora it sounds like.")
else:
    with dashboard.user_errors():
        sounds = dashboard.sounds_like(typed)
        best = next(iter(sounds))
        st.markdown(f"Sounds most like **{TITLES[best]}** ({percent(sounds[best])}).")
        dashboard.show_chart(score_charts.sounds_like_chart(sounds, TITLES, typed))

dashboard.warm_up()  # after the page is drawn: prepare what the other pages need

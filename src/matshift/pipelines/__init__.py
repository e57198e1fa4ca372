"""One Kedro pipeline per stage of the story; each is instantiated once per declared dataset."""

# placeholder: replaced by the real probe

"""``python -m tools.synthetic``: the generator's command line (see ``cli.py``)."""

from tools.synthetic.cli import main

raise SystemExit(main())

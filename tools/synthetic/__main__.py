"""``python -m tools.synthetic``: the generator's command line (see ``generator.py``)."""

from tools.synthetic.generator import main

raise SystemExit(main())

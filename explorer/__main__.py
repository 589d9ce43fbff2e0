"""``python -m explorer``: the command line (``explorer.cli``); the process ends as ``explorer.process_end`` says."""

from explorer.cli import main
from explorer.process_end import end_process

end_process(main())

// Entry of the bundle for both steps of action.yml (main and post).
import './dirname-shim.js'
import { run } from './main.js'
import { runPost } from './post.js'
import { isPost } from './state.js'

await (isPost() ? runPost() : run())

import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'

// `npm run dev` serves on http://localhost:3000 and calls the rais API on :8000 (CORS).
export default defineConfig({
  plugins: [react()],
  base: './',
})

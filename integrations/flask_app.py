"""Flask. Serve: gunicorn integrations.flask_app:app -k gthread --threads 64 -b 0.0.0.0:8000"""

from flask import Flask
from flask_cors import CORS

from rais.flask import rais_blueprint

app = Flask(__name__)
CORS(app)
app.register_blueprint(rais_blueprint(provider="openai"))
